"""One optimizer pass per module."""
