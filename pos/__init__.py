"""Server for poverty-alleviation counters and supermarket zones."""
