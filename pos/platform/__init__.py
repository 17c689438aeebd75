"""Platform: certified transactions, their relay to the national platform, reconciliation."""
