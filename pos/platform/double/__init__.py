"""The platform double: a small separate server implementing the platform's receiving side."""
