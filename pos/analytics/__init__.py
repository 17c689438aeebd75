"""Insight: sales rollups, repeat buyers and cohorts, comments and ratings (docs/analytics.md)."""
