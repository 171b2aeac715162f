"""`duijie bench event` at a small size: no conflicts, every 必须见 held, near the bound."""

from __future__ import annotations

from tools.bench.event import run as bench_run


def test_bench_at_a_small_size_meets_its_figures() -> None:
    result = bench_run(30, 30, 6, 8)
    assert result["conflicts"] == 0
    assert result["must_scheduled"] == result["must_feasible"]
    assert result["value_ratio"] >= 0.95
