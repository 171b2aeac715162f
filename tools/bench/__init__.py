"""Benchmarks that print measured figures: search, ingest across hosts, the web site under load,
event scheduling."""
