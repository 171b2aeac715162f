"""Reproducible demo data that looks like a provincial tech-transfer platform (all names fictional)."""
