"""Pairing and scheduling: no double booking ever, must-meets first, reasons for what is left."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcher.events.scheduling import Placed, Problem, check, solve


def _problem(**kw) -> Problem:  # type: ignore[no-untyped-def]
    base = dict(
        demand=[1, 2, 3],
        supply=[11, 12, 13],
        value={(d, s): 0.5 + 0.1 * ((d + s) % 3) for d in (1, 2, 3) for s in (11, 12, 13)},
        slots=3,
        tables=3,
    )
    base.update(kw)
    return Problem(**base)  # type: ignore[arg-type]


def test_a_complete_small_event_fits_in_its_slots() -> None:
    # every pair wanted, degree 3 = slots: König says it fits exactly
    schedule = solve(_problem(fairness=0.0))
    assert len(schedule.meetings) == 9 and check(_problem(), schedule.meetings) == []
    assert schedule.unscheduled == []


def test_must_never_and_caps() -> None:
    problem = _problem(cap={1: 1, 2: 1, 3: 1}, must={(1, 13)}, never={(2, 11), (2, 12), (2, 13)})
    schedule = solve(problem)
    pairs = {(m.demand, m.supply) for m in schedule.meetings}
    assert (1, 13) in pairs and not any(d == 2 for d, _ in pairs)
    assert schedule.must_scheduled == schedule.must_feasible == 1
    assert check(problem, schedule.meetings) == []


def test_unavailability_is_respected_and_explained() -> None:
    # 1 and 11 have no common free slot: their must-meet cannot happen, and the schedule says why
    problem = _problem(slots=2, unavailable={1: {0}, 11: {1}}, must={(1, 11)})
    schedule = solve(problem)
    assert (1, 11) not in {(m.demand, m.supply) for m in schedule.meetings}
    assert any(
        u.demand == 1 and u.supply == 11 and "共同" in u.reason for u in schedule.unscheduled
    )
    assert schedule.must_feasible == 0 and check(problem, schedule.meetings) == []


def test_tables_limit_each_slot() -> None:
    problem = _problem(tables=1)
    schedule = solve(problem)
    assert len(schedule.meetings) == 3  # one table × three slots
    assert check(problem, schedule.meetings) == []


def test_the_checker_catches_every_kind_of_conflict() -> None:
    problem = _problem(unavailable={2: {1}}, never={(3, 13)}, cap={1: 1})
    bad = [
        Placed(1, 11, 0, 0, 1, False),
        Placed(1, 12, 0, 1, 1, False),  # 1 double-booked, and over its cap
        Placed(2, 12, 1, 1, 1, False),  # 2 unavailable
        Placed(3, 13, 2, 1, 1, False),  # 不见
        Placed(2, 13, 2, 1, 1, False),  # table 1 twice in slot 2
    ]
    found = " ".join(check(problem, bad))
    for fragment in ("double-booked", "over its cap", "unavailable", "不见", "two meetings"):
        assert fragment in found


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n_demand=st.integers(1, 7),
    n_supply=st.integers(1, 7),
    slots=st.integers(1, 5),
    tables=st.integers(1, 4),
    seed=st.integers(0, 10_000),
    data=st.data(),
)
def test_any_input_gives_a_schedule_without_double_booking(
    n_demand, n_supply, slots, tables, seed, data
) -> None:  # type: ignore[no-untyped-def]
    import random

    rng = random.Random(seed)
    demand = list(range(n_demand))
    supply = list(range(100, 100 + n_supply))
    value = {(d, s): rng.random() for d in demand for s in supply if rng.random() < 0.8}
    pairs = [(d, s) for d in demand for s in supply]
    must = set(data.draw(st.lists(st.sampled_from(pairs), max_size=4)))
    never = set(data.draw(st.lists(st.sampled_from(pairs), max_size=4))) - must
    unavailable = {p: {t for t in range(slots) if rng.random() < 0.3} for p in demand + supply}
    cap = {p: rng.randint(1, slots) for p in demand + supply}
    problem = Problem(
        demand, supply, value, slots, tables, cap, must, set(), never, set(), unavailable
    )
    schedule = solve(problem)
    assert check(problem, schedule.meetings) == []
    assert schedule.must_scheduled == schedule.must_feasible
    assert schedule.value <= schedule.upper_bound + 1e-6
