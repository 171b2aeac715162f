"""Pairing and scheduling of 1:1 meetings, with a maintained solver (HiGHS through SciPy).

Stage 0 — must-meets: the largest set of 「必须见」 pairs that can all be seated at once is
found first (its size is what "every feasible must-meet" means), and those pairs are forced.

Stage 1 — pairing: choose the meetings that maximize total value (match score, raised by
「希望见」, forced by 「必须见」 where feasible, excluded by 「不见」, lowered for pairs that met at an
earlier event) with every participant within its cap and its free slots, and no more meetings
than slots × tables. It is a bipartite b-matching with one budget row, solved as a MILP.

Stage 2 — slots: place the chosen meetings so nobody is in two meetings at once, both sides are
free in the slot, and a slot holds at most as many meetings as there are tables. Without
availability limits this always succeeds (a bipartite graph of maximum degree S has an equitable
S-edge-colouring); with them it may not, so the MILP maximizes the value placed, must-meets
first, and every meeting left over is listed with the reason.

Stage 3 — fill: free (participant, slot) pairs left by stage 2 take the best remaining pairs.

Tables: in each slot, meetings are assigned to tables keeping a team at the table it already
holds where possible (a linear assignment per slot), so teams do not move between meetings.

`check` validates a schedule independently of the solver."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, linear_sum_assignment, milp
from scipy.sparse import coo_matrix

WANT_FACTOR = 1.5
MET_BEFORE_FACTOR = 0.5
MIN_VALUE = 0.05  # pairs below this relevance are not worth a table


@dataclass
class Problem:
    demand: list[int]  # participant ids (需求方)
    supply: list[int]  # participant ids (成果方)
    value: dict[tuple[int, int], float]  # (demand, supply) → match score ≥ 0
    slots: int
    tables: int
    cap: dict[int, int] = field(default_factory=dict)  # participant → max meetings
    must: set[tuple[int, int]] = field(default_factory=set)
    want: set[tuple[int, int]] = field(default_factory=set)
    never: set[tuple[int, int]] = field(default_factory=set)
    met_before: set[tuple[int, int]] = field(default_factory=set)
    unavailable: dict[int, set[int]] = field(default_factory=dict)  # participant → slot indices
    fairness: float = 0.5  # bonus for each participant's first meeting (see pair_solve)
    # The relevance rule: when `related` is given, only its pairs (labelled 相关 or better) and
    # pairs both sides asked for may meet — an empty seat is better than a wasted meeting.
    related: set[tuple[int, int]] | None = None
    asked_by_both: set[tuple[int, int]] = field(default_factory=set)

    def allowed(self, pair: tuple[int, int]) -> bool:
        """Relevant enough to meet, or wanted by both sides."""
        return self.related is None or pair in self.related or pair in self.asked_by_both

    def free_slots(self, participant: int) -> set[int]:
        return set(range(self.slots)) - self.unavailable.get(participant, set())

    def weight(self, pair: tuple[int, int]) -> float:
        base = self.value.get(pair, 0.0)
        if pair in self.want:
            base *= WANT_FACTOR
        if pair in self.met_before:
            base *= MET_BEFORE_FACTOR
        return base

    def candidate_pairs(self) -> list[tuple[int, int]]:
        out = []
        free = {p: self.free_slots(p) for p in self.demand + self.supply}
        for d in self.demand:
            for s in self.supply:
                pair = (d, s)
                if pair in self.never or not free[d] & free[s] or not self.allowed(pair):
                    continue  # excluded, never free at the same time, or not relevant enough
                if pair in self.must or self.weight(pair) >= MIN_VALUE:
                    out.append(pair)
        return out

    def limit(self, participant: int) -> int:
        return min(self.cap.get(participant, self.slots), len(self.free_slots(participant)))


@dataclass
class Placed:
    demand: int
    supply: int
    slot: int
    table: int
    value: float
    must: bool


@dataclass
class Unscheduled:
    demand: int
    supply: int
    must: bool
    reason: str


@dataclass
class Schedule:
    meetings: list[Placed]
    unscheduled: list[Unscheduled]
    chosen_value: float
    upper_bound: float
    solve_s: float
    must_feasible: int
    must_scheduled: int

    @property
    def value(self) -> float:
        return sum(m.value for m in self.meetings)


def pair_solve(
    problem: Problem,
    pairs: list[tuple[int, int]],
    *,
    integral: bool,
    fairness: float = 0.0,
    fixed: set[tuple[int, int]] = frozenset(),  # type: ignore[assignment]
) -> np.ndarray:
    """Stage 1 (or its LP relaxation, the upper bound): maximize weight under caps and capacity.

    With `fairness` > 0 each participant's first meeting earns that bonus (a variable y_p ≤ 1
    bounded by its meetings), so when tables are scarce the value is spread over more
    participants instead of giving the best-matched ones all their meetings."""
    if not pairs:
        return np.zeros(0)
    people = {p: i for i, p in enumerate(problem.demand + problem.supply)}
    n = len(pairs)
    k = len(people) if fairness > 0 else 0
    c = np.array([-problem.weight(p) for p in pairs] + [-fairness] * k)
    lower = np.array([1.0 if p in fixed else 0.0 for p in pairs] + [0.0] * k)
    rows, cols = [], []
    for j, (d, s) in enumerate(pairs):
        rows += [people[d], people[s]]
        cols += [j, j]
    a_people = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(people), n + k)).tocsr()
    upper = np.array([problem.limit(p) for p in people], dtype=float)
    budget = np.concatenate([np.ones(n), np.zeros(k)])[None, :]
    constraints = [
        LinearConstraint(a_people, -np.inf, upper),
        LinearConstraint(budget, -np.inf, problem.slots * problem.tables),
    ]
    if k:
        # y_p - Σ_{pairs of p} x ≤ 0
        fair = coo_matrix(
            (
                np.concatenate([-np.ones(len(rows)), np.ones(k)]),
                (rows + list(range(k)), cols + [n + i for i in range(k)]),
            ),
            shape=(k, n + k),
        ).tocsr()
        constraints.append(LinearConstraint(fair, -np.inf, 0))
    result = milp(
        c,
        constraints=constraints,
        bounds=Bounds(lower, 1),
        integrality=np.ones(n + k) if integral else np.zeros(n + k),
        options={"time_limit": 60, "mip_rel_gap": 1e-4},
    )
    if result.x is None:
        raise RuntimeError(f"pairing solver failed: {result.message}")
    return np.asarray(result.x)[:n]


def _slot_solve(
    problem: Problem,
    chosen: list[tuple[int, int]],
    weights: list[float],
    fixed: set[tuple[int, int]] = frozenset(),  # type: ignore[assignment]
) -> dict[tuple[int, int], int]:
    """Stage 2: meeting → slot, maximizing the weight placed within caps; `fixed` meetings
    must be placed (the caller knows they can all be placed together)."""
    variables: list[tuple[int, int]] = []  # (meeting index, slot)
    for m, (d, s) in enumerate(chosen):
        for t in sorted(problem.free_slots(d) & problem.free_slots(s)):
            variables.append((m, t))
    if not variables:
        return {}
    n = len(variables)
    c = -np.array([weights[m] for m, _ in variables])
    groups: list[tuple[list[int], float, float]] = []
    by_meeting: dict[int, list[int]] = defaultdict(list)
    by_person_slot: dict[tuple[int, int], list[int]] = defaultdict(list)
    by_slot: dict[int, list[int]] = defaultdict(list)
    by_person: dict[int, list[int]] = defaultdict(list)
    for j, (m, t) in enumerate(variables):
        d, s = chosen[m]
        by_meeting[m].append(j)
        by_person_slot[(d, t)].append(j)
        by_person_slot[(s, t)].append(j)
        by_slot[t].append(j)
        by_person[d].append(j)
        by_person[s].append(j)
    groups += [
        (members, 1.0 if chosen[m] in fixed else -np.inf, 1.0) for m, members in by_meeting.items()
    ]
    groups += [(members, -np.inf, 1.0) for members in by_person_slot.values()]
    groups += [(members, -np.inf, float(problem.tables)) for members in by_slot.values()]
    groups += [(members, -np.inf, float(problem.limit(p))) for p, members in by_person.items()]
    rows = [r for r, (members, _, _) in enumerate(groups) for _ in members]
    cols = [j for members, _, _ in groups for j in members]
    a = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(groups), n)).tocsr()
    result = milp(
        c,
        constraints=[
            LinearConstraint(a, np.array([g[1] for g in groups]), np.array([g[2] for g in groups]))
        ],
        bounds=Bounds(0, 1),
        integrality=np.ones(n),
        options={"time_limit": 60, "mip_rel_gap": 1e-4},
    )
    if result.x is None:
        raise RuntimeError(f"slot solver failed: {result.message}")
    placed = {}
    for j, value in enumerate(result.x):
        if value > 0.5:
            m, t = variables[j]
            placed[chosen[m]] = t
    return placed


def _assign_tables(
    problem: Problem, slot_of: dict[tuple[int, int], int]
) -> dict[tuple[int, int], int]:
    """Per slot, a linear assignment of meetings to tables that keeps teams where they sat."""
    seat: dict[int, int] = {}
    table_of: dict[tuple[int, int], int] = {}
    by_slot: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for pair, t in slot_of.items():
        by_slot[t].append(pair)
    for t in sorted(by_slot):
        pairs = sorted(by_slot[t], key=lambda p: (p[1], p[0]))
        cost = np.ones((len(pairs), problem.tables))
        for i, (_d, s) in enumerate(pairs):
            if s in seat:
                cost[i, seat[s]] = 0.0
        rows, cols = linear_sum_assignment(cost)
        for i, k in zip(rows.tolist(), cols.tolist(), strict=True):
            table_of[pairs[i]] = k
            seat[pairs[i][1]] = k
    return table_of


def _why_unplaced(
    problem: Problem, pair: tuple[int, int], busy: dict[int, set[int]], full_slots: set[int]
) -> str:
    d, s = pair
    common = problem.free_slots(d) & problem.free_slots(s)
    if not common:
        return "双方没有共同的空闲时段"
    open_slots = [t for t in common if t not in busy[d] and t not in busy[s]]
    if not open_slots:
        return "双方共同空闲的时段都已排满其他洽谈"
    if all(t in full_slots for t in open_slots):
        return "双方都空闲的时段桌位已满"
    return "与更高价值的洽谈冲突"


def solve(problem: Problem) -> Schedule:
    started = time.perf_counter()
    pairs = problem.candidate_pairs()
    # Stage 0: the largest set of 必须见 that can all be seated (caps, free slots, tables).
    musts = [p for p in pairs if p in problem.must]
    placeable = set(_slot_solve(problem, musts, [1.0] * len(musts))) if musts else set()
    # The upper bound: the best total value of any pairing that holds those must-meets, within
    # caps, free slots and table capacity but ignoring who can sit when — an LP relaxation.
    relaxed = pair_solve(problem, pairs, integral=False, fixed=placeable)
    upper_bound = float(sum(problem.weight(p) * x for p, x in zip(pairs, relaxed, strict=True)))
    x = pair_solve(problem, pairs, integral=True, fairness=problem.fairness, fixed=placeable)
    chosen = [p for p, v in zip(pairs, x, strict=True) if v > 0.5]
    slot_of = _slot_solve(problem, chosen, [problem.weight(p) for p in chosen], fixed=placeable)

    # Stage 3: fill what stage 2 left free with the best pairs not yet met.
    busy: dict[int, set[int]] = defaultdict(set)
    count: dict[int, int] = defaultdict(int)
    per_slot: dict[int, int] = defaultdict(int)
    for (d, s), t in slot_of.items():
        busy[d].add(t)
        busy[s].add(t)
        count[d] += 1
        count[s] += 1
        per_slot[t] += 1
    placed_pairs = set(slot_of)
    for pair in sorted(pairs, key=lambda p: -problem.weight(p)):
        if pair in placed_pairs:
            continue
        d, s = pair
        if count[d] >= problem.limit(d) or count[s] >= problem.limit(s):
            continue
        for t in sorted(problem.free_slots(d) & problem.free_slots(s)):
            if t not in busy[d] and t not in busy[s] and per_slot[t] < problem.tables:
                slot_of[pair] = t
                placed_pairs.add(pair)
                busy[d].add(t)
                busy[s].add(t)
                count[d] += 1
                count[s] += 1
                per_slot[t] += 1
                break

    table_of = _assign_tables(problem, slot_of)
    full_slots = {t for t, n in per_slot.items() if n >= problem.tables}
    meetings = [
        Placed(d, s, t, table_of[(d, s)], problem.weight((d, s)), (d, s) in problem.must)
        for (d, s), t in sorted(slot_of.items(), key=lambda kv: (kv[1], table_of[kv[0]]))
    ]
    unscheduled = [
        Unscheduled(d, s, (d, s) in problem.must, _why_unplaced(problem, (d, s), busy, full_slots))
        for (d, s) in chosen
        if (d, s) not in slot_of
    ]
    for d, s in sorted(problem.must - set(chosen) - problem.never):
        unscheduled.append(Unscheduled(d, s, True, _must_reason(problem, (d, s), count)))
    feasible = len(placeable)
    return Schedule(
        meetings=meetings,
        unscheduled=unscheduled,
        chosen_value=float(sum(problem.weight(p) for p in chosen)),
        upper_bound=upper_bound,
        solve_s=round(time.perf_counter() - started, 3),
        must_feasible=feasible,
        must_scheduled=sum(1 for m in meetings if m.must),
    )


def _must_reason(problem: Problem, pair: tuple[int, int], count: dict[int, int]) -> str:
    d, s = pair
    if not problem.allowed(pair):
        return "相关度未达到「相关」，且只有一方提出请求"
    if not problem.free_slots(d) & problem.free_slots(s):
        return "双方没有共同的空闲时段"
    if count[d] >= problem.limit(d) or count[s] >= problem.limit(s):
        return "一方的「必须见」超过了其洽谈上限"
    return "桌位与时段容量不足"


def unrequested_below_related(problem: Problem, meetings: list[Placed]) -> list[str]:
    """Meetings the relevance rule forbids the solver to choose: below 相关 and not asked for by
    both sides. (An organizer may still add one by hand: that is someone asking.)"""
    return [
        f"pair {m.demand}-{m.supply} below 相关 scheduled, not asked by both"
        for m in meetings
        if not problem.allowed((m.demand, m.supply))
    ]


def relevance_summary(
    problem: Problem, result: Schedule, label_of: dict[tuple[int, int], str]
) -> dict[str, Any]:
    """The schedule's relevance: meetings per label (high / related / weak — a weak one only
    because both sides asked for it), meetings below 相关 nobody asked for (0 under the rule),
    seats left empty, and participants' free meeting slots, in all and for want of a relevant
    partner (no allowed pair left for them to meet)."""
    labels = {"high": 0, "related": 0, "weak": 0}
    for m in result.meetings:
        labels[label_of.get((m.demand, m.supply), "weak")] += 1
    unrequested = sum(
        1
        for m in result.meetings
        if label_of.get((m.demand, m.supply), "weak") == "weak"
        and (m.demand, m.supply) not in problem.asked_by_both
    )
    count: dict[int, int] = defaultdict(int)
    for m in result.meetings:
        count[m.demand] += 1
        count[m.supply] += 1
    met = {(m.demand, m.supply) for m in result.meetings}
    open_partners: dict[int, int] = defaultdict(int)
    for d, s in problem.candidate_pairs():
        if (d, s) not in met:
            open_partners[d] += 1
            open_partners[s] += 1
    room = {p: max(problem.limit(p) - count[p], 0) for p in problem.demand + problem.supply}
    return {
        "relevance": labels,
        "below_related_unrequested": unrequested,
        "seats": problem.slots * problem.tables,
        "seats_empty": problem.slots * problem.tables - len(result.meetings),
        "participant_slots_unused": sum(room.values()),
        "unused_for_want_of_relevant_partner": sum(
            left for p, left in room.items() if left and not open_partners[p]
        ),
    }


# --------------------------------------------------------------------------------------------
# independent checks
# --------------------------------------------------------------------------------------------


def check(problem: Problem, meetings: list[Placed]) -> list[str]:
    """Every rule a schedule must keep, checked from the meetings alone (not from the solver)."""
    problems: list[str] = []
    seen_person_slot: set[tuple[int, int]] = set()
    seen_table_slot: set[tuple[int, int]] = set()
    seen_pair: set[tuple[int, int]] = set()
    counts: dict[int, int] = defaultdict(int)
    for m in meetings:
        if not 0 <= m.slot < problem.slots:
            problems.append(f"slot {m.slot} out of range")
        if not 0 <= m.table < problem.tables:
            problems.append(f"table {m.table} out of range")
        for person in (m.demand, m.supply):
            if (person, m.slot) in seen_person_slot:
                problems.append(f"participant {person} double-booked in slot {m.slot}")
            seen_person_slot.add((person, m.slot))
            if m.slot in problem.unavailable.get(person, set()):
                problems.append(f"participant {person} unavailable in slot {m.slot}")
            counts[person] += 1
        if (m.table, m.slot) in seen_table_slot:
            problems.append(f"table {m.table} holds two meetings in slot {m.slot}")
        seen_table_slot.add((m.table, m.slot))
        if (m.demand, m.supply) in seen_pair:
            problems.append(f"pair {m.demand}-{m.supply} meets twice")
        seen_pair.add((m.demand, m.supply))
        if (m.demand, m.supply) in problem.never:
            problems.append(f"pair {m.demand}-{m.supply} marked 不见 was scheduled")
    for person, n in counts.items():
        if n > problem.cap.get(person, problem.slots):
            problems.append(f"participant {person} over its cap ({n})")
    return problems
