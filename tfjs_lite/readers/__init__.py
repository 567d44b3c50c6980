"""Readers: one per input format."""
