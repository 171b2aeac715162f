"""Offline building of the built-in embedding models (the runtime only loads what this writes)."""
