"""Command-line entry points: thin wrappers over the functions the web app uses."""
