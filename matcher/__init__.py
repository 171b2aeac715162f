"""duijie matching domain: models, services, text, embedding, scoring and matching."""

__version__ = "0.1.0"
