"""Offline tooling: demo data, benchmarks, evaluations and model building. It imports the runtime
(`matcher`, `index`, and `web` where a benchmark drives the site); nothing at runtime imports it."""
