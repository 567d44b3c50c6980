"""Pipelines: one per (input format, output format) pair, each reading, transforming and writing."""
