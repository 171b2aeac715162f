"""duijie web: FastAPI app, Jinja2 + htmx pages and the JSON API."""
