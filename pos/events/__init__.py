"""Events: the outbox table and its dispatcher (`pos.events.outbox`)."""
