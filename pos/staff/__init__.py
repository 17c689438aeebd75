"""Staff users and roles, sessions, device tokens and supplier keys."""
