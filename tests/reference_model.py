"""An exact reference model of the placement problem, written from the spec alone.

Why it exists: the engine prunes pairs, prices them back, fixes them by reduced cost and
races solvers; a mistake in any of those can still end in a plan that passes the checker
and claims optimality. This module shares nothing with the engine (no reader, candidates,
pricing, fixing or model code; not even `optimiser.rules`): it reads the instance folder
with pandas, writes every feasible (unit, placement) pair of the full pair set from the
rules of `instance-format.md`, and solves one MIP exactly (HiGHS through SciPy, or CBC
through PuLP). The objective it reports is re-evaluated from the rounded plan, so solver
tolerances never reach the comparison.

Covered: spec version 1 (hard pair rules, sibling groups placed whole or split with the
split penalty, solo children, capacity with current residents, the unplaced penalty by
priority, the faith preference, distances.csv overrides, exclusions, a current placement
that now breaks a rule staying a candidate for its child), the move penalty, format 1.1
(`reserved_for`, the `out_of_area` weight over both `authority` columns, and
`move_only_in_child_interest`, on unless the policy turns it off: a placed child is never
left unplaced and moves only for one of the spec's four reasons, each child of a group on
its own), and these re-allocation inputs: `pinned`, `on_hold_reason`, `available_from`
(with an as-of date) and a limit on the number of children moved (`max_moves`). Not
covered: re-allocation's `min_saving` and `previous`. Read literally, "never left unplaced"
makes an instance whose placed siblings live apart and cannot be reunited infeasible here;
the engine keeps placed only a group living together and its reader warns of the others.
"""

from __future__ import annotations

import datetime as dt
import math
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 only
    import tomli as tomllib

EARTH_KM = 6371.0
TYPES = ("inhouse_foster", "kinship_foster", "ifa_foster", "inhouse_residential",
         "external_residential", "supported_accommodation", "secure", "parent_and_child")
DEFAULT_TYPES = frozenset(TYPES) - {"secure", "parent_and_child"}
RATING_RANK = {"outstanding": 0, "good": 1, "requires_improvement": 2, "inadequate": 3}
WEIGHTS = {"cost": 1.0, "per_km": 5.0, "faith_mismatch": 200.0, "move": 500.0,
           "unplaced": 100000.0, "sibling_split": 1000.0, "out_of_area": 0.0}
STEP_DOWN_FROM = frozenset({"inhouse_residential", "external_residential", "secure"})
STEP_DOWN_TO = frozenset({"inhouse_foster", "kinship_foster", "ifa_foster"})
TRUE = ("true", "yes", "1")


@dataclass(frozen=True)
class Child:
    cid: str
    age: float
    gender: str
    lat: float
    lon: float
    group: str
    faith: str
    faith_match: str
    needs: frozenset[str]
    types: frozenset[str]
    max_km: float | None
    solo: bool
    current: str
    priority: float
    pinned: bool
    authority: str = ""


@dataclass(frozen=True)
class Place:
    pid: str
    ptype: str
    vacancies: int
    age_min: float
    age_max: float
    genders: frozenset[str]
    faith: str
    needs: frozenset[str]
    rating: str
    lat: float
    lon: float
    cost: float
    closed: bool  # on hold or not yet available: residents stay, no newcomer
    reserved_for: frozenset[str] | None = None  # child ids or sibling groups; None: anyone
    authority: str = ""


@dataclass(frozen=True)
class Spec:
    """One instance as the spec defines it, plus the run's options."""

    children: list[Child]
    places: list[Place]
    exclusions: frozenset[tuple[str, str]]
    km_override: dict[tuple[str, str], float]
    weights: dict[str, float]
    min_rating: str
    split: bool
    max_moves: int | None = None
    move_rule: bool = True  # move_only_in_child_interest
    min_move_km: float = 10.0


@dataclass(frozen=True)
class Reference:
    """The exact optimum: status, objective (re-evaluated from the plan) and the plan."""

    status: str
    objective: float
    assignment: dict[str, str] = field(repr=False)  # child -> placement ('' unplaced)
    pairs: int = 0


def _table(path: Path) -> pd.DataFrame:
    if not path.exists():
        return pd.DataFrame()
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df.columns = [str(c).strip().lower() for c in df.columns]
    df = df.apply(lambda s: s.str.strip())
    return df[(df != "").any(axis=1)].reset_index(drop=True)


def _col(df: pd.DataFrame, name: str) -> pd.Series:
    return df[name] if name in df.columns else pd.Series([""] * len(df), dtype=str)


def _tags(text: str) -> frozenset[str]:
    return frozenset(t.strip() for t in text.split(";") if t.strip())


def _area(text: str) -> str:
    """An authority as the spec compares them: its code or name, in any case and spacing."""
    return " ".join(text.split()).lower()


def _bool(value: object, default: bool) -> bool:
    if value is None:
        return default
    return value if isinstance(value, bool) else str(value).lower() in TRUE


def _closed(hold: str, opens: str, day: dt.date) -> bool:
    return bool(hold) or (bool(opens) and dt.date.fromisoformat(opens[:10]) > day)


def read_spec(folder: str | Path, *, day: dt.date | None = None,
              max_moves: int | None = None) -> Spec:
    """Read an instance folder straight from the spec's columns and defaults."""
    folder = Path(folder)
    day = day or dt.date.today()
    ch, pl = _table(folder / "children.csv"), _table(folder / "placements.csv")
    children = []
    for r in ch.assign(**{c: _col(ch, c) for c in (
            "sibling_group", "faith", "faith_match", "needs", "placement_types",
            "max_distance_km", "solo", "current_placement", "priority", "pinned",
            "authority")}
                       ).to_dict("records"):
        types = _tags(r["placement_types"].lower())
        children.append(Child(
            r["child_id"], float(r["age"]), r["gender"].upper(), float(r["home_lat"]),
            float(r["home_lon"]), r["sibling_group"], r["faith"].lower(),
            r["faith_match"].lower() or "none", _tags(r["needs"]),
            types or DEFAULT_TYPES,
            float(r["max_distance_km"]) if r["max_distance_km"] else None,
            r["solo"].lower() in TRUE, r["current_placement"],
            float(r["priority"]) if r["priority"] else 1.0,
            r["pinned"].lower() in TRUE and r["current_placement"] != "",
            _area(r["authority"])))
    places = []
    for r in pl.assign(**{c: _col(pl, c) for c in (
            "genders", "faith", "needs_supported", "ofsted_rating", "on_hold_reason",
            "available_from", "reserved_for", "authority")}).to_dict("records"):
        places.append(Place(
            r["placement_id"], r["type"].lower(), int(float(r["vacancies"])),
            float(r["age_min"]), float(r["age_max"]),
            _tags(r["genders"].upper()) or frozenset("FMX"), r["faith"].lower(),
            _tags(r["needs_supported"]), r["ofsted_rating"].lower() or "not_rated",
            float(r["lat"]), float(r["lon"]), float(r["weekly_cost"]),
            _closed(r["on_hold_reason"], r["available_from"], day),
            _tags(r["reserved_for"]) or None, _area(r["authority"])))
    ex = _table(folder / "exclusions.csv")
    exclusions = frozenset(zip(_col(ex, "child_id"), _col(ex, "placement_id"), strict=True))
    dist = _table(folder / "distances.csv")
    km = {(c, p): float(k) for c, p, k in zip(_col(dist, "child_id"),
                                              _col(dist, "placement_id"), _col(dist, "km"),
                                              strict=True)}
    policy: dict = {}
    if (folder / "policy.toml").exists():
        policy = tomllib.loads((folder / "policy.toml").read_text())
    weights = dict(WEIGHTS)
    weights.update({k: float(v) for k, v in policy.get("weights", {}).items() if k in WEIGHTS})
    rules = policy.get("rules", {})
    return Spec(children, places, exclusions, km, weights,
                str(rules.get("min_ofsted_rating", "requires_improvement")).lower(),
                _bool(rules.get("split_siblings"), False), max_moves,
                _bool(rules.get("move_only_in_child_interest"), True),
                float(rules.get("min_move_km", 10.0)))


def distance_km(spec: Spec, c: Child, p: Place) -> float:
    """distances.csv where given, else great-circle km on a 6,371 km sphere."""
    if (c.cid, p.pid) in spec.km_override:
        return spec.km_override[c.cid, p.pid]
    f1, f2 = math.radians(c.lat), math.radians(p.lat)
    a = (math.sin((f2 - f1) / 2) ** 2
         + math.cos(f1) * math.cos(f2) * math.sin(math.radians(p.lon - c.lon) / 2) ** 2)
    return 2 * EARTH_KM * math.asin(math.sqrt(min(1.0, max(0.0, a))))


def breaks(spec: Spec, c: Child, p: Place) -> bool:
    """Does p break one of child c's hard pair rules (as it would for a newcomer)?"""
    rank = RATING_RANK.get(p.rating)
    return (
        (p.ptype == "supported_accommodation" and c.age < 16)
        or p.ptype not in c.types
        or not p.age_min <= c.age <= p.age_max
        or c.gender not in p.genders
        or not c.needs <= p.needs
        or (c.faith_match == "required" and (not c.faith or c.faith != p.faith))
        or (rank is not None and rank > RATING_RANK[spec.min_rating])
        or (c.cid, p.pid) in spec.exclusions
        or (c.max_km is not None and distance_km(spec, c, p) > c.max_km + 1e-9)
        or (p.reserved_for is not None and c.cid not in p.reserved_for
            and c.group not in p.reserved_for))


def in_interest(spec: Spec, c: Child, p: Place, place: dict[str, Place]) -> bool:
    """move_only_in_child_interest: c stays, waits, or moving to p is better for c itself
    (nearer home by min_move_km, its faith, a step down to a family, or its current
    placement now breaks one of its rules)."""
    if not spec.move_rule or not c.current or c.current == p.pid:
        return True
    home = place[c.current]
    faith = c.faith_match in ("preferred", "required") and c.faith != ""
    return (distance_km(spec, c, home) - distance_km(spec, c, p) >= spec.min_move_km - 1e-9
            or (faith and p.faith == c.faith and home.faith != c.faith)
            or (home.ptype in STEP_DOWN_FROM and p.ptype in STEP_DOWN_TO)
            or breaks(spec, c, home))


def allowed(spec: Spec, c: Child, p: Place) -> bool:
    """May child c live at p? Every hard pair rule; its own current placement always."""
    if c.current == p.pid:
        return True
    return not (c.pinned or p.closed or breaks(spec, c, p))


def pair_cost(spec: Spec, c: Child, p: Place) -> float:
    """The spec's objective terms of one child living at one placement."""
    w = spec.weights
    mismatch = c.faith_match == "preferred" and (not p.faith or p.faith != c.faith)
    moved = c.current != "" and c.current != p.pid
    away = c.authority != "" and p.authority != "" and c.authority != p.authority
    return (w["cost"] * p.cost + w["per_km"] * distance_km(spec, c, p)
            + w["faith_mismatch"] * mismatch + w["move"] * moved + w["out_of_area"] * away)


def capacity(spec: Spec) -> dict[str, int]:
    """Offered vacancies (none while closed) plus the children living there now."""
    cap = {p.pid: 0 if p.closed else p.vacancies for p in spec.places}
    for c in spec.children:
        if c.current in cap:
            cap[c.current] += 1
    return cap


def evaluate(spec: Spec, assignment: dict[str, str]) -> float:
    """The spec's objective of a plan (child -> placement, '' unplaced)."""
    place = {p.pid: p for p in spec.places}
    w = spec.weights
    total = 0.0
    spread: dict[str, set[str]] = {}
    for c in spec.children:
        pid = assignment.get(c.cid, "")
        if pid:
            total += pair_cost(spec, c, place[pid])
            if c.group:
                spread.setdefault(c.group, set()).add(pid)
        else:
            total += w["unplaced"] * c.priority
    if spec.split:
        total += w["sibling_split"] * sum(len(s) - 1 for s in spread.values())
    return total


def _units(spec: Spec) -> list[list[Child]]:
    """Children placed as one: a sibling group (unless it may be split), else each child."""
    if spec.split:
        return [[c] for c in spec.children]
    groups: dict[str, list[Child]] = {}
    out: list[list[Child]] = []
    for c in spec.children:
        if c.group:
            if c.group not in groups:
                groups[c.group] = []
                out.append(groups[c.group])
            groups[c.group].append(c)
        else:
            out.append([c])
    return out


@dataclass
class _Model:
    """min c.x + const over binaries x, rows lo <= A x <= hi; what each pair column means."""

    pairs: list[tuple[int, str]]  # column -> (unit, placement) for the first len(pairs)
    c: list[float] = field(default_factory=list)
    const: float = 0.0
    rows: list[dict[int, float]] = field(default_factory=list)
    lo: list[float] = field(default_factory=list)
    hi: list[float] = field(default_factory=list)

    def column(self, cost: float) -> int:
        self.c.append(cost)
        return len(self.c) - 1

    def row(self, coef: dict[int, float], lo: float, hi: float) -> None:
        self.rows.append(coef)
        self.lo.append(lo)
        self.hi.append(hi)


def _unit_pairs(spec: Spec, unit: list[Child], cap: dict[str, int]) -> list[Place]:
    """Placements where the whole unit may live together (a solo child alone)."""
    pinned = {c.current for c in unit if c.pinned}
    if len(pinned) > 1 or (any(c.solo for c in unit) and len(unit) > 1):
        return []
    place = {p.pid: p for p in spec.places}
    return [p for p in spec.places
            if (not pinned or p.pid in pinned) and len(unit) <= cap[p.pid]
            and all(allowed(spec, c, p) and in_interest(spec, c, p, place) for c in unit)]


def build(spec: Spec) -> tuple[_Model, list[list[Child]]]:
    """The MIP over every feasible (unit, placement) pair of the instance."""
    units = _units(spec)
    cap = capacity(spec)
    w = spec.weights
    model = _Model(pairs=[])
    at_place: dict[str, dict[int, float]] = {p.pid: {} for p in spec.places}
    moves: dict[int, float] = {}
    moves_if_out = 0.0
    by_group: dict[str, dict[str, list[int]]] = {}
    for u, unit in enumerate(units):
        out_cost = w["unplaced"] * sum(c.priority for c in unit)
        model.const += out_cost
        living = sum(1 for c in unit if c.current)
        moves_if_out += living
        cols: dict[int, float] = {}
        for p in _unit_pairs(spec, unit, cap):
            j = model.column(sum(pair_cost(spec, c, p) for c in unit) - out_cost)
            model.pairs.append((u, p.pid))
            cols[j] = 1.0
            at_place[p.pid][j] = cap[p.pid] if unit[0].solo else len(unit)
            moves[j] = sum(1 for c in unit if c.current and c.current != p.pid) - living
            if spec.split and unit[0].group:
                by_group.setdefault(unit[0].group, {}).setdefault(p.pid, []).append(j)
        must = any(c.pinned for c in unit) or (spec.move_rule and living > 0)
        model.row(cols, 1.0 if must else 0.0, 1.0)
    for pid, coef in at_place.items():
        if coef:
            model.row(coef, 0.0, float(cap[pid]))
    if spec.max_moves is not None:
        model.row(moves, -np.inf, spec.max_moves - moves_if_out)
    for places in by_group.values():  # split siblings: spread = placements used - 1
        used: dict[int, float] = {}
        for members in places.values():
            y = model.column(w["sibling_split"])
            used[y] = -1.0
            for j in members:
                model.row({j: 1.0, y: -1.0}, -np.inf, 0.0)
        z = model.column(-w["sibling_split"])
        model.row({z: 1.0, **used}, -np.inf, 0.0)
    return model, units


def _solve_highs(model: _Model, time_limit: float) -> tuple[str, np.ndarray | None]:
    n = len(model.c)
    if n == 0:
        return "optimal", np.zeros(0)
    data, ri, ci = [], [], []
    for i, coef in enumerate(model.rows):
        for j, v in coef.items():
            ri.append(i)
            ci.append(j)
            data.append(v)
    a = sparse.csr_array((data, (ri, ci)), shape=(len(model.rows), n))
    res = milp(np.asarray(model.c), integrality=np.ones(n), bounds=Bounds(0, 1),
               constraints=LinearConstraint(a, model.lo, model.hi),
               options={"mip_rel_gap": 0.0, "time_limit": time_limit, "presolve": True})
    if res.status == 0:
        return "optimal", res.x
    return ("infeasible" if res.status == 2 else "time_limit"), res.x


def _solve_cbc(model: _Model, time_limit: float) -> tuple[str, np.ndarray | None]:
    with warnings.catch_warnings():  # PuLP 3.x announces its 4.0 API on every variable
        warnings.simplefilter("ignore", DeprecationWarning)
        return _cbc_model(model, time_limit)


def _cbc_model(model: _Model, time_limit: float) -> tuple[str, np.ndarray | None]:
    import pulp

    prob = pulp.LpProblem("reference", pulp.LpMinimize)
    x = [pulp.LpVariable(f"x{j}", cat="Binary") for j in range(len(model.c))]
    prob += pulp.lpSum(cj * x[j] for j, cj in enumerate(model.c) if cj)
    for coef, lo, hi in zip(model.rows, model.lo, model.hi, strict=True):
        expr = pulp.lpSum(v * x[j] for j, v in coef.items())
        if lo == hi:
            prob += expr == hi
        else:
            prob += expr <= hi
            if np.isfinite(lo) and lo > 0:
                prob += expr >= lo
    solver = pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit, gapRel=0.0, gapAbs=1e-7,
                               threads=1)
    status = prob.solve(solver)
    if pulp.LpStatus[status] == "Infeasible":
        return "infeasible", None
    if pulp.LpStatus[status] != "Optimal" or prob.sol_status != pulp.LpSolutionOptimal:
        return "time_limit", None
    return "optimal", np.array([v.value() or 0.0 for v in x])


def solve_reference(spec: Spec | str | Path, *, solver: str = "highs",
                    time_limit: float = 600.0) -> Reference:
    """The exact optimum of the instance (a folder or a read Spec), by `solver`
    ("highs": SciPy's HiGHS MIP; "cbc": PuLP's CBC)."""
    if not isinstance(spec, Spec):
        spec = read_spec(spec)
    model, units = build(spec)
    status, x = (_solve_highs if solver == "highs" else _solve_cbc)(model, time_limit)
    if x is None or status == "infeasible":
        return Reference(status, math.nan, {}, len(model.pairs))
    plan = {c.cid: "" for c in spec.children}
    for j, (u, pid) in enumerate(model.pairs):
        if x[j] > 0.5:
            for c in units[u]:
                plan[c.cid] = pid
    value = evaluate(spec, plan)
    solver_value = model.const + float(np.dot(model.c, np.round(x)))
    if abs(value - solver_value) > 1e-6 * max(1.0, abs(value)):
        raise AssertionError(f"reference model inconsistent: {value} vs {solver_value}")
    return Reference(status, value, plan, len(model.pairs))


def golden_entry(folder: str | Path, solver: str = "highs") -> dict[str, object]:
    """One instances/golden.json entry: the status and the optimum to the penny."""
    ref = solve_reference(folder, solver=solver)
    return {"status": ref.status, "objective": round(ref.objective, 2), "pairs": ref.pairs,
            "solver": f"tests/reference_model.py ({solver})"}


if __name__ == "__main__":  # python tests/reference_model.py instances/golden.json NAME...
    import json

    target = Path(sys.argv[1])
    golden = json.loads(target.read_text()) if target.exists() else {}
    for name in sys.argv[2:]:
        golden[name] = golden_entry(target.parent / name)
        print(name, golden[name], flush=True)
    target.write_text(json.dumps(dict(sorted(golden.items())), indent=2) + "\n")
