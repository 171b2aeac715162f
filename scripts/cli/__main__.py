"""`python -m scripts.cli`: what the benchmarks and the multi-process tests start."""

from scripts.cli import main

main()
