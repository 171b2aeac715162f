"""Embedding models: building the offline models, loading any sentence-transformers model,
and encoding with long-text windows and a content-addressed cache."""
