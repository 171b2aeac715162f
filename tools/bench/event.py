"""`duijie bench event`: a synthetic event of a given size, solved and checked independently.

Match scores come from random unit vectors (clustered, so some pairs are much better than
others); each enterprise marks its best match 必须见 and three more 希望见, 5% of pairs are 不见,
12% of participants are unavailable in two slots, everyone's cap is 8. The upper bound for the
value ratio is the LP relaxation of the pairing with caps, free slots and table capacity but no
per-slot conflicts, with every feasible 必须见 held (they are required); the ratio against the
bound without that requirement is reported too, as is a greedy baseline (best pair first, first
free slot) solved side by side — the way organizers' spreadsheets do it.

Relevance: a pair's match score stands for its calibrated relevance figure (0–1; 相关 from 0.5,
高度相关 from 0.8, as on the site). Under the relevance rule only pairs that reach 相关, or that
both sides asked for (a third of the 希望见 pairs are asked back by the team), may meet; the
report gives the schedule's relevance distribution and the seats left empty, and — solved side
by side — how many meetings below 相关 nobody asked for the schedule would hold without the rule."""

from __future__ import annotations

import random
import statistics
from typing import Any

import numpy as np

from matcher.events.scheduling import (
    Problem,
    Schedule,
    check,
    pair_solve,
    relevance_summary,
    solve,
    unrequested_below_related,
)

RELATED, HIGH = 0.5, 0.8  # the figure's anchors (matcher.relevance.Calibration.display_value)


def label_of(value: float) -> str:
    return "high" if value >= HIGH else "related" if value >= RELATED else "weak"


def synthetic_problem(
    enterprises: int, teams: int, slots: int, tables: int, *, cap: int = 8, seed: int = 2026
) -> Problem:
    rng = np.random.default_rng(seed)
    r = random.Random(seed)
    centers = rng.standard_normal((12, 32))
    d_vec = centers[rng.integers(0, 12, enterprises)] + 0.8 * rng.standard_normal((enterprises, 32))
    s_vec = centers[rng.integers(0, 12, teams)] + 0.8 * rng.standard_normal((teams, 32))
    d_vec /= np.linalg.norm(d_vec, axis=1, keepdims=True)
    s_vec /= np.linalg.norm(s_vec, axis=1, keepdims=True)
    sim = np.clip(d_vec @ s_vec.T, 0, None)
    demand = list(range(enterprises))
    supply = list(range(enterprises, enterprises + teams))
    value = {
        (d, enterprises + s): float(sim[d, s])
        for d in range(enterprises)
        for s in range(teams)
        if sim[d, s] > 0.05
    }
    must: set[tuple[int, int]] = set()
    want: set[tuple[int, int]] = set()
    never: set[tuple[int, int]] = set()
    for d in range(enterprises):
        order = np.argsort(-sim[d])
        must.add((d, enterprises + int(order[0])))
        for s in order[1:4]:
            want.add((d, enterprises + int(s)))
        for s in range(teams):
            if r.random() < 0.05:
                never.add((d, enterprises + s))
    never -= must
    asked_by_both = {pair for pair in want if r.random() < 1 / 3}
    unavailable = {
        p: set(r.sample(range(slots), 2))
        for p in demand + supply
        if r.random() < 0.12 and slots > 2
    }
    return Problem(
        demand,
        supply,
        value,
        slots,
        tables,
        {p: cap for p in demand + supply},
        must,
        want,
        never,
        set(),
        unavailable,
        related={pair for pair, v in value.items() if v >= RELATED},
        asked_by_both=asked_by_both,
    )


def greedy_baseline(problem: Problem) -> tuple[float, int, int]:
    """Must-meets first, then the best pairs, each into its first slot where both sides and a
    table are free: (value, must-meets placed, participants without a meeting)."""
    busy: dict[int, set[int]] = {p: set() for p in problem.demand + problem.supply}
    per_slot = [0] * problem.slots
    value, musts = 0.0, 0
    order = sorted(
        problem.candidate_pairs(), key=lambda p: (p not in problem.must, -problem.weight(p))
    )
    for d, s in order:
        if len(busy[d]) >= problem.limit(d) or len(busy[s]) >= problem.limit(s):
            continue
        for t in sorted(problem.free_slots(d) & problem.free_slots(s) - busy[d] - busy[s]):
            if per_slot[t] < problem.tables:
                busy[d].add(t)
                busy[s].add(t)
                per_slot[t] += 1
                value += problem.weight((d, s))
                musts += (d, s) in problem.must
                break
    return value, musts, sum(1 for slots in busy.values() if not slots)


def run(
    enterprises: int,
    teams: int,
    slots: int,
    tables: int,
    *,
    cap: int = 8,
    seed: int = 2026,
    fairness: float | None = None,
) -> dict[str, Any]:
    """Solve a synthetic event of this size and report its figures beside the bound and the
    greedy baseline (see the module)."""
    problem = synthetic_problem(enterprises, teams, slots, tables, cap=cap, seed=seed)
    if fairness is not None:
        problem.fairness = fairness
    schedule = solve(problem)
    free_bound = bound_without_must_requirement(problem)
    greedy_value, greedy_musts, greedy_idle = greedy_baseline(problem)
    conflicts = check(problem, schedule.meetings) + unrequested_below_related(
        problem, schedule.meetings
    )
    counts = meetings_per_person(problem, schedule)
    idle = sum(1 for n in counts if n == 0)
    return {
        "enterprises": enterprises,
        "teams": teams,
        "slots": slots,
        "tables": tables,
        "solve_s": schedule.solve_s,
        "meetings": len(schedule.meetings),
        "capacity": slots * tables,
        "conflicts": len(conflicts),
        "must_scheduled": schedule.must_scheduled,
        "must_feasible": schedule.must_feasible,
        "min_meetings": min(counts) if counts else 0,
        "median_meetings": statistics.median(counts) if counts else 0,
        "value_ratio": _ratio(schedule.value, schedule.upper_bound),
        "value_ratio_without_must_requirement": _ratio(schedule.value, free_bound),
        "without_meetings": idle,
        "fairness": problem.fairness,
        "unscheduled": len(schedule.unscheduled),
        "objective": objective(problem, schedule.value, idle),
        "baseline_greedy": {
            "value_ratio": _ratio(greedy_value, schedule.upper_bound),
            "must_scheduled": greedy_musts,
            "without_meetings": greedy_idle,
            "objective": objective(problem, greedy_value, greedy_idle),
        },
        "relevance": relevance_figures(problem, schedule),
        "solver": "HiGHS MILP via scipy.optimize.milp (pairing, then slots), linear_sum_assignment (tables)",
    }


def _ratio(value: float, bound: float) -> float:
    return round(value / bound, 4) if bound else 1.0


def bound_without_must_requirement(problem: Problem) -> float:
    """The LP relaxation's value when the feasible 必须见 need not all be held."""
    pairs = problem.candidate_pairs()
    return float(
        sum(
            problem.weight(p) * x
            for p, x in zip(pairs, pair_solve(problem, pairs, integral=False), strict=True)
        )
    )


def objective(problem: Problem, value: float, idle: int) -> float:
    """What the solver maximizes: value plus the fairness bonus per participant who meets."""
    people = len(problem.demand) + len(problem.supply)
    return round(value + problem.fairness * (people - idle), 2)


def meetings_per_person(problem: Problem, schedule: Schedule) -> list[int]:
    """How many meetings each participant has, demand side first."""
    per_person = {p: 0 for p in problem.demand + problem.supply}
    for m in schedule.meetings:
        per_person[m.demand] += 1
        per_person[m.supply] += 1
    return list(per_person.values())


def relevance_figures(problem: Problem, schedule: Schedule) -> dict[str, Any]:
    """The scheduled meetings by relevance label, the seats left empty for want of a relevant
    partner, and the same event solved without the relevance rule (every seat filled)."""
    labels = {pair: label_of(v) for pair, v in problem.value.items()}
    summary = relevance_summary(problem, schedule, labels)
    unruled = Problem(**{**problem.__dict__, "related": None})
    without = solve(unruled)
    without_summary = relevance_summary(problem, without, labels)
    return {
        "scheduled": {
            {"high": "高度相关", "related": "相关", "weak": "弱相关（双方请求）"}[k]: n
            for k, n in summary["relevance"].items()
        },
        "below_related_unrequested": summary["below_related_unrequested"],
        "seats_empty": summary["seats_empty"],
        "participant_slots_unused": summary["participant_slots_unused"],
        "unused_for_want_of_relevant_partner": summary["unused_for_want_of_relevant_partner"],
        "without_rule": {
            "meetings": len(without.meetings),
            "below_related_unrequested": without_summary["below_related_unrequested"],
            "seats_empty": without_summary["seats_empty"],
        },
    }
