"""Embedding models: loading any sentence-transformers model (the built-in ones are built by
tools/model_build), encoding with long-text windows and a content-addressed cache, and the
vectors stored in the database."""
