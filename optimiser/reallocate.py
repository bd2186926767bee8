"""Overnight void-bed re-allocation: fill usable voids with few, justified moves.

The optimisation is the core engine's, unchanged in kind: the run's options become
settings of the instance (`Instance.with_reallocation`), so pinned children, held beds,
the minimum own saving and yesterday's plan are rules and terms of the one model whose
bound is proven over every pair, and `--max-moves` is one more row of it. This module
only reads yesterday's plan, runs the solve, and turns the plan into what a manager
signs off: the moves and why, every void bed and why it stays empty, the chains in
which one move frees the bed another child takes, and the totals before and after.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .approval import APPROVER, AREA, approval, has_authorities
from .categories import KM_PER_MILE
from .explain import feasible_placements, void_reason, void_reasons
from .instance import PREVIOUS_UNKNOWN, Instance
from .interest import MOVE_REASON_WORDS, move_reasons
from .objective import faith_mismatched, pair_distances, pair_terms
from .pipeline.types import BestPlan, Result, SolveOptions
from .rules import Rule
from .safe_text import restore
from .status import Status
from .statusquo import (
    occupied,
    spec_terms,
    status_quo_assignment,
)
from .writer import Report, make_report, write_output

log = logging.getLogger(__name__)

MOVE_FILES = ("moves.csv", "voids.csv", "chains.csv")


@dataclass(frozen=True)
class ReallocOptions:
    """What `placement reallocate` is asked; None means no such limit."""

    max_moves: int | None = None
    min_saving: float | None = None
    date: dt.date | None = None
    previous: str | Path | None = None
    previous_weight: float = 100.0
    time_limit: float = 60.0
    # the `time.perf_counter()` value the time limit counts from (None: the solve's start)
    started: float | None = None
    seed: int = 0
    workers: int = 0
    # HiGHS: deterministic, and far stronger than CP-SAT on re-allocation (most children
    # stay, a few moves decide everything)
    backend: str = "highs"


def read_previous(inst: Instance, folder: str | Path) -> tuple[np.ndarray, list[str]]:
    """Yesterday's proposals from an output folder's assignments.csv.

    Returns, per child, the placement index proposed (-1: unplaced) or PREVIOUS_UNKNOWN
    (a child new tonight, or a placement no longer in the instance), and warnings.
    """
    f = Path(folder) / "assignments.csv"
    if not f.is_file():
        raise FileNotFoundError(f"--previous {folder}: no assignments.csv there")
    df = pd.read_csv(f, dtype=str, keep_default_na=False)
    if not {"child_id", "placement_id"} <= set(df.columns):
        raise ValueError(f"{f}: needs the columns child_id and placement_id")
    prev = np.full(inst.n_children, PREVIOUS_UNKNOWN, dtype=np.int64)
    warnings: list[str] = []
    gone: list[str] = []
    for cid, pid in zip(df["child_id"].str.strip().map(restore),
                        df["placement_id"].str.strip().map(restore), strict=True):
        c = inst.child_index.get(cid)
        if c is None:
            continue  # left care, or moved on since yesterday: nothing to keep stable
        if pid == "":
            prev[c] = -1
        elif pid in inst.placement_index:
            prev[c] = inst.placement_index[pid]
        else:
            gone.append(pid)
    if gone:
        warnings.append(f"{len(gone)} proposal(s) of yesterday's plan name placements no "
                        f"longer in the instance (first: {gone[0]}); those children are "
                        "planned afresh")
    return prev, warnings


def tonight(inst: Instance, opts: ReallocOptions) -> Instance:
    """The instance with the run's rules and limits (yesterday's plan read)."""
    prev = None
    if opts.previous is not None:
        prev, warns = read_previous(inst, opts.previous)
        for w in warns:
            log.warning(w)
    return inst.with_reallocation(date=opts.date or inst.reallocation.date or dt.date.today(),
                                  max_moves=opts.max_moves, min_saving=opts.min_saving,
                                  previous=prev, previous_weight=opts.previous_weight)


def reallocate(inst: Instance, opts: ReallocOptions,
               progress: Callable[[str], None] | None = None, best: BestPlan | None = None,
               run: Instance | None = None) -> Result:
    """Solve the re-allocation: the spec's objective with the run's rules and limits.
    `run`: `tonight(inst, opts)`, when the caller has it; `best` as for `solve`."""
    run = run if run is not None else tonight(inst, opts)
    # a 1e-5 LP tolerance (£100 on £10m) saves column-generation rounds for the MIP
    so = SolveOptions(time_limit=opts.time_limit, started=opts.started, seed=opts.seed,
                      workers=opts.workers, backend=opts.backend, lp_tolerance=1e-5)
    from .solver import solve

    return solve(run, so, progress=progress, best=best)


# --------------------------------------------------------------------------- plan tables


def _money(x: float) -> str:
    return f"£{abs(x):,.0f}"


def totals(inst: Instance, assignment: np.ndarray) -> dict[str, Any]:
    """The figures a manager compares before and after."""
    placed = np.flatnonzero(assignment >= 0)
    dist = pair_distances(inst, placed, assignment[placed])
    terms = spec_terms(inst, assignment)
    empty = np.maximum(inst.capacity - occupied(inst, assignment), 0)
    return {
        "objective": round(sum(terms.values()), 2),
        "placed": len(placed),
        "waiting_unplaced": int(((assignment < 0) & (inst.current < 0)).sum()),
        "unplaced": int((assignment < 0).sum()),
        "total_weekly_cost": round(float(inst.weekly_cost[assignment[placed]].sum()), 2),
        "mean_distance_km": round(float(dist.mean()), 3) if len(placed) else 0.0,
        "total_distance_km": round(float(dist.sum()), 1),
        "empty_offered_beds": int(empty.sum()),
    }


@dataclass
class _Item:
    """One unit's change tonight: who goes where, which beds it frees."""

    unit: int
    children: list[int]  # members whose placement changes
    target: int  # -1: left unplaced
    need: int  # beds needed at target
    frees: dict[int, int]  # placement -> beds freed there
    kind: str


def _items(inst: Instance, assignment: np.ndarray) -> list[_Item]:
    units = inst.units
    changed = assignment != inst.current
    out: list[_Item] = []
    for u in np.unique(units.unit_of[changed]).tolist():
        members = units.members(u)
        kids = [int(c) for c in members if assignment[c] != inst.current[c]]
        target = int(assignment[kids[0]])
        frees: dict[int, int] = {}
        for c in kids:
            cur = int(inst.current[c])
            if cur >= 0:
                frees[cur] = frees.get(cur, 0) + (int(inst.capacity[cur]) if inst.solo[c]
                                                  else 1)
        solo = bool(units.solo[u])
        need = 0 if target < 0 else (int(inst.capacity[target]) if solo else len(kids))
        placed_before = any(inst.current[c] >= 0 for c in kids)
        kind = ("unplaced" if target < 0 else "move" if placed_before else "new_placement")
        out.append(_Item(u, kids, target, need, frees, kind))
    return out


def chain_order(inst: Instance, assignment: np.ndarray) -> pd.DataFrame:
    """Every change in an order that frees each bed before it is filled.

    Simulates the night: at each step every change whose target has room goes ahead;
    beds it frees open at the next step, so a child who takes a freed bed always comes
    after the child who freed it. Changes that only work together (two children
    swapping full placements) go in one step, marked simultaneous. Chains are the
    groups of changes linked by freed beds.
    """
    items = _items(inst, assignment)
    # beds open at the start: the offered vacancies (a solo resident fills its placement)
    vac = np.maximum(inst.capacity - occupied(inst, inst.current.astype(np.int64)), 0)
    vac = vac.astype(np.int64)
    tokens: dict[int, list[int]] = {}  # placement -> changes that freed a bed there
    done = [False] * len(items)
    step_of = [0] * len(items)
    freed_by: list[int | None] = [None] * len(items)
    simultaneous = [False] * len(items)

    def room(p: int) -> int:
        return int(vac[p]) + len(tokens.get(p, []))

    step = 0
    while not all(done):
        step += 1
        ready = [i for i, it in enumerate(items)
                 if not done[i] and (it.target < 0 or it.need <= room(it.target))]
        together = not ready
        if together:
            ready = _cycle(items, done)
            for i in ready:  # they free each other's beds: open them all first
                for p, k in items[i].frees.items():
                    tokens.setdefault(p, []).extend([i] * k)
        opened: list[int] = []
        for i in ready:
            it = items[i]
            if it.target >= 0:
                if not together and it.need > room(it.target):
                    continue  # an earlier change this step took the room
                take = min(it.need, int(vac[it.target]))
                vac[it.target] -= take
                rest = tokens.get(it.target, [])
                for _ in range(it.need - take):
                    j = rest.pop(0) if rest else None
                    if freed_by[i] is None and j is not None and j != i:
                        freed_by[i] = j
            done[i] = True
            step_of[i] = step
            simultaneous[i] = together
            opened.append(i)
        if not together:
            for i in opened:  # beds freed this step open at the next one
                for p, k in items[i].frees.items():
                    tokens.setdefault(p, []).extend([i] * k)
    # chains: union of items linked by a freed bed
    parent = list(range(len(items)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in enumerate(freed_by):
        if j is not None:
            parent[root(i)] = root(j)
    order = sorted(range(len(items)),
                   key=lambda i: (step_of[i], str(inst.child_ids[items[i].children[0]])))
    chain_id: dict[int, int] = {}
    rows = []
    for i in order:
        r = root(i)
        chain_id.setdefault(r, len(chain_id) + 1)
        it = items[i]
        fb = freed_by[i]
        by = ", ".join(str(inst.child_ids[c]) for c in items[fb].children) if fb is not None else ""
        for c in it.children:
            cur = int(inst.current[c])
            rows.append({
                "chain_id": chain_id[r], "step": step_of[i],
                "child_id": str(inst.child_ids[c]),
                "from_placement": str(inst.placement_ids[cur]) if cur >= 0 else "",
                "to_placement": str(inst.placement_ids[it.target]) if it.target >= 0 else "",
                "kind": it.kind, "uses_bed_freed_by": by,
                "simultaneous": simultaneous[i],
            })
    cols = ["chain_id", "step", "child_id", "from_placement", "to_placement", "kind",
            "uses_bed_freed_by", "simultaneous"]
    df = pd.DataFrame(rows, columns=cols)
    # a chain of one change is not a chain: keep the id, but number chains densely
    return df


def _cycle(items: list[_Item], done: list[bool]) -> list[int]:
    """Changes that must happen together: a group of them waiting only on each other."""
    import networkx as nx

    g = nx.DiGraph()
    open_ = [i for i in range(len(items)) if not done[i]]
    g.add_nodes_from(open_)
    for i in open_:
        for j in open_:
            if i != j and items[i].target in items[j].frees:
                g.add_edge(i, j)  # i waits for j to leave its target
    cond = nx.condensation(g)
    sinks = [n for n in cond.nodes if cond.out_degree(n) == 0]
    members = sorted(min(cond.nodes[n]["members"]) for n in sinks)
    first = next(n for n in sinks if min(cond.nodes[n]["members"]) == members[0])
    return sorted(cond.nodes[first]["members"])


def _why_move(saving: float, dkm: float, faith_gain: bool, extra: str) -> str:
    """'closer to home by 34 km and £310/week cheaper' (a drawback follows 'but')."""
    good, bad = [], []
    if dkm < -0.5:
        good.append(f"closer to home by {abs(dkm):,.0f} km")
    elif dkm > 0.5:
        bad.append(f"further from home by {dkm:,.0f} km")
    if saving > 0.5:
        good.append(f"{_money(saving)}/week cheaper")
    elif saving < -0.5:
        bad.append(f"{_money(saving)}/week dearer")
    if faith_gain:
        good.append("a carer of the child's faith")
    text = " and ".join(good) if good else "no gain for the child itself"
    if bad:
        text += (", but " if good else ": ") + " and ".join(bad)
    return text + extra


def moves_table(inst: Instance, assignment: np.ndarray, chains: pd.DataFrame,
                ) -> pd.DataFrame:
    """Children already placed whom the plan moves or leaves unplaced, and why."""
    kids = np.flatnonzero((inst.current >= 0) & (assignment != inst.current))
    cols = ["child_id", "from_placement", "to_placement", "weekly_saving",
            "distance_change_km", "distance_change_miles", "own_gain", "placed_since",
            "weeks_in_placement", "chain_id", "step", "why"]
    if len(kids) == 0:  # the same header as when children move
        return pd.DataFrame(columns=cols + ["interest"]
                            + (["area", "approval"] if has_authorities(inst) else []))
    cur = inst.current[kids].astype(np.int64)
    new = assignment[kids]
    d_old = pair_distances(inst, kids, cur)
    placed = new >= 0
    d_new = np.full(len(kids), np.nan)
    d_new[placed] = pair_distances(inst, kids[placed], new[placed])
    c_old = inst.weekly_cost[cur]
    c_new = np.where(placed, inst.weekly_cost[np.maximum(new, 0)], np.nan)
    f_old = faith_mismatched(inst, kids, cur)
    f_new = faith_mismatched(inst, kids, np.maximum(new, 0))
    own_new = np.full(len(kids), np.nan)
    own_new[placed] = pair_terms(inst, kids[placed], new[placed], d_new[placed]).own
    gain = inst.stay_terms[kids] - own_new
    where = {str(cid): (int(ch), int(st)) for cid, ch, st in
             zip(chains["child_id"], chains["chain_id"], chains["step"], strict=True)}
    # who takes the bed each mover frees
    takers: dict[str, list[str]] = {}
    if len(chains):
        for cid, by in zip(chains["child_id"], chains["uses_bed_freed_by"], strict=True):
            for b in str(by).split(", "):
                if b:
                    takers.setdefault(b, []).append(str(cid))
    rows = []
    for i, c in enumerate(kids.tolist()):
        cid = str(inst.child_ids[c])
        since = inst.placed_since[c] if inst.placed_since is not None else None
        weeks = (inst.as_of - since).days // 7 if since is not None else None
        extra = ""
        if cid in takers:
            extra = f"; frees a bed for {', '.join(takers[cid])}"
        if placed[i]:
            why = _why_move(c_old[i] - c_new[i], d_new[i] - d_old[i],
                            bool(f_old[i] and not f_new[i]), extra)
        else:
            why = ("left unplaced: the authority's weights value the children who take "
                   f"its bed more{extra}" if extra else "left unplaced")
        chain, step = where.get(cid, (None, None))
        rows.append({
            "child_id": cid,
            "from_placement": str(inst.placement_ids[cur[i]]),
            "to_placement": str(inst.placement_ids[new[i]]) if placed[i] else "",
            "weekly_saving": round(float(c_old[i] - c_new[i]), 2) if placed[i] else None,
            "distance_change_km": round(float(d_new[i] - d_old[i]), 3) if placed[i] else None,
            "distance_change_miles": (round(float(d_new[i] - d_old[i]) / KM_PER_MILE, 3)
                                      if placed[i] else None),
            "own_gain": round(float(gain[i]), 2) if placed[i] else None,
            "placed_since": since.isoformat() if since is not None else "",
            "weeks_in_placement": weeks,
            "chain_id": chain,
            "step": step,
            "why": why,
        })
    df = pd.DataFrame(rows, columns=cols)
    df["interest"] = _interest(inst, kids, new, d_new)
    if inst.move_rule:  # say in words which of the spec's reasons makes each move
        df["why"] = [f"{w} (in the child's interest: "
                     f"{', '.join(MOVE_REASON_WORDS[r] for r in i.split(';'))})" if i else w
                     for w, i in zip(df["why"], df["interest"], strict=True)]
    if has_authorities(inst):
        code = approval(inst, kids, np.maximum(new, 0))
        df["area"] = [AREA[int(x)] if p else "" for x, p in zip(code, placed, strict=True)]
        df["approval"] = [APPROVER[int(x)] or "" if p else ""
                          for x, p in zip(code, placed, strict=True)]
    return df.sort_values(["step", "chain_id", "child_id"], kind="stable").reset_index(drop=True)


def _interest(inst: Instance, kids: np.ndarray, new: np.ndarray, km: np.ndarray) -> list[str]:
    """Per moved child, the spec's reasons that make the move in its interest (`closer`,
    `faith`, `step_down`, `current_breaks`, `;`-separated); "" for a move for cost alone
    or a child left unplaced."""
    out = []
    for c, p, d in zip(kids.tolist(), new.tolist(), km.tolist(), strict=True):
        if p < 0:
            out.append("")
            continue
        why = move_reasons(inst, np.array([c]), np.array([p]), np.array([[d]]))
        out.append(";".join(r for r, m in why.items() if m[0, 0]))
    return out


def voids_table(inst: Instance, assignment: np.ndarray, chains: pd.DataFrame,
                proven: bool = True, deadline: float | None = None) -> pd.DataFrame:
    """Every vacant bed, filled or not, and why not.

    Vacant beds are the `vacancies` of placements.csv and the beds tonight's moves free.
    A held or not-yet-available placement takes no new child; an offered bed is filled
    by a child (its id) or empty with the reason no waiting child can take it.
    """
    cols = ["placement_id", "bed", "provider", "type", "weekly_cost", "source", "status",
            "filled_by", "from_placement", "reason_code", "why_not"]
    freed_at: dict[int, list[str]] = {}
    leaving = np.flatnonzero((inst.current >= 0) & (assignment != inst.current))
    for c in leaving.tolist():
        freed_at.setdefault(int(inst.current[c]), []).append(str(inst.child_ids[c]))
    arriving: dict[int, list[int]] = {}
    for c in np.flatnonzero((assignment >= 0) & (assignment != inst.current)).tolist():
        arriving.setdefault(int(assignment[c]), []).append(c)
    used_after = occupied(inst, assignment)
    rows: list[dict[str, Any]] = []
    places = sorted(set(np.flatnonzero(inst.vacancies > 0).tolist()) | set(freed_at)
                    | set(arriving))
    # why beds stay empty, for every placement that may have one, in one batch
    open_places = np.array([p for p in places if not inst.held[p] and not
                            inst.not_yet_available[p]
                            and int(inst.vacancies[p]) + len(freed_at.get(p, []))
                            > len(arriving.get(p, []))], dtype=np.int64)
    free_after_all = np.maximum(inst.capacity - used_after, 0)
    reasons = void_reasons(inst, open_places, free_after_all[open_places], assignment, proven,
                           deadline)
    for p in places:
        base = {"placement_id": str(inst.placement_ids[p]), "provider": str(inst.provider[p]),
                "type": inst.type_name(p), "weekly_cost": float(inst.weekly_cost[p])}
        beds = ["vacancy"] * int(inst.vacancies[p]) + [
            f"freed tonight by {cid}" for cid in freed_at.get(p, [])]
        fills = list(arriving.get(p, []))
        solo_in = [c for c in fills if inst.solo[c]]
        held = bool(inst.held[p])
        later = bool(inst.not_yet_available[p])
        free_after = max(int(inst.capacity[p]) - int(used_after[p]), 0)
        reason = None
        for b, source in enumerate(beds, start=1):
            row = dict(base, bed=b, source=source, filled_by="", from_placement="",
                       reason_code="", why_not="")
            if fills:
                c = fills.pop(0)
                cur = int(inst.current[c])
                row.update(status="filled", filled_by=str(inst.child_ids[c]),
                           from_placement=str(inst.placement_ids[cur]) if cur >= 0 else "")
            elif solo_in:
                row.update(status="empty", reason_code=Rule.SOLO.value,
                           why_not=f"{inst.child_ids[solo_in[0]]} must live alone here: the "
                           "placement takes no one else")
            elif held and source == "vacancy":
                row.update(status="on_hold", reason_code=Rule.ON_HOLD.value,
                           why_not=f"on hold ({_at(inst.on_hold, p)})")
            elif later and source == "vacancy":
                day = _at(inst.available_from, p)
                row.update(status="not_yet_available", reason_code=Rule.NOT_YET_AVAILABLE.value,
                           why_not=f"not available until {day.isoformat()}")
            elif held or later:
                code = Rule.ON_HOLD if held else Rule.NOT_YET_AVAILABLE
                row.update(status="empty", reason_code=code.value,
                           why_not="freed tonight, but the placement "
                           + ("is on hold" if held else "is not available yet")
                           + ": no new child goes there")
            else:
                if reason is None:
                    reason = reasons.get(p) or void_reason(inst, p, free_after, assignment,
                                                           proven)
                row.update(status="empty", reason_code=reason.code, why_not=reason.text)
            rows.append(row)
    return pd.DataFrame(rows, columns=cols)


def _blame_move_limit(inst: Instance, assignment: np.ndarray, table: pd.DataFrame,
                      limit: int) -> None:
    """A waiting child left out because its placements are full, where a resident who
    is not pinned could have moved: the binding `--max-moves` is the reason to give."""
    units = inst.units
    assert inst.pinned is not None
    movable = np.bincount(inst.current[(inst.current >= 0) & ~inst.pinned],
                          minlength=inst.n_placements)
    rows = np.flatnonzero((assignment < 0) & (inst.current < 0)
                          & (table["reason_code"].to_numpy() == Rule.CAPACITY.value))
    done: set[int] = set()
    for c in rows.tolist():
        u = int(units.unit_of[c])
        if u in done:
            continue
        done.add(u)
        places = feasible_placements(inst, u)
        if len(places) and (movable[places] > 0).any():
            members = units.members(u)
            table.loc[members, "reason_code"] = Rule.MAX_MOVES.value
            table.loc[members, "reason"] = (
                table.loc[members, "reason"].astype(str)
                + f" Moving a child already placed could free a bed, but the plan uses all "
                f"{limit} moves allowed (--max-moves).")


def _at(column: np.ndarray | None, i: int) -> Any:
    """An optional Instance column's value (they are always filled after __post_init__)."""
    assert column is not None
    return column[i]


def make_plan(result: Result, deadline: float | None = None
              ) -> tuple[Report, dict[str, pd.DataFrame]]:
    """The spec's report plus the re-allocation tables and the `reallocation` summary.
    Past `deadline` (a `time.perf_counter()` value) what is not yet explained says so."""
    inst = result.instance
    report = make_report(result, deadline)
    a = result.assignment
    chains = chain_order(inst, a)
    moves = moves_table(inst, a, chains)
    voids = voids_table(inst, a, chains, proven=result.status == Status.OPTIMAL,
                        deadline=deadline)
    before, after = totals(inst, status_quo_assignment(inst)), totals(inst, a)
    rl = inst.reallocation
    late = deadline is not None and time.perf_counter() > deadline
    if rl.max_moves is not None and len(moves) >= rl.max_moves and not late:
        _blame_move_limit(inst, a, report.assignments, rl.max_moves)
    summary: dict[str, Any] = {
        "date": inst.as_of.isoformat(),
        "max_moves": rl.max_moves,
        "min_saving": rl.min_saving,
        "moves": int(len(moves)),
        "moved": int((moves["to_placement"] != "").sum()) if len(moves) else 0,
        "left_unplaced": int((moves["to_placement"] == "").sum()) if len(moves) else 0,
        "new_placements": int(((a >= 0) & (inst.current < 0)).sum()),
        "pinned": int(inst.pinned.sum()) if inst.pinned is not None else 0,
        "chains": int(chains.loc[chains["uses_bed_freed_by"] != "", "chain_id"].nunique())
        if len(chains) else 0,
        "before": before,
        "after": after,
        "change": {k: round(after[k] - before[k], 3) for k in before},
        "voids": {str(k): int(v) for k, v in voids["status"].value_counts().items()},
    }
    if rl.previous is not None:
        changed = inst.previous_known & (a != np.asarray(rl.previous))
        summary["stability"] = {
            "previous_weight": rl.previous_weight,
            "children_in_previous": int(inst.previous_known.sum()),
            "proposals_changed": int(changed.sum()),
            "penalty": float(result.stats.get("stability_penalty", 0.0)),
            "penalised_objective": float(result.stats.get("penalised_objective", 0.0)),
            "penalised_bound": float(result.stats.get("penalised_bound", 0.0)),
        }
    report.summary["reallocation"] = summary
    return report, {"moves.csv": moves, "voids.csv": voids, "chains.csv": chains}


def write_plan(result: Result, out: str | Path, deadline: float | None = None
               ) -> tuple[Report, dict[str, pd.DataFrame]]:
    """Write the output folder (atomically) with the re-allocation tables."""
    report, tables = make_plan(result, deadline)
    write_output(report, out, extra=tables)
    return report, tables


def format_plan(summary: dict[str, Any], moves: pd.DataFrame, voids: pd.DataFrame,
                limit: int = 10) -> str:
    """Before/after totals, the first moves and the void counts, for the terminal."""
    rl = summary["reallocation"]
    b, a = rl["before"], rl["after"]
    rows = [
        ("", "before", "after"),
        ("objective (£/week)", f"{b['objective']:,.0f}", f"{a['objective']:,.0f}"),
        ("children placed", f"{b['placed']:,}", f"{a['placed']:,}"),
        ("waiting, unplaced", f"{b['waiting_unplaced']:,}", f"{a['waiting_unplaced']:,}"),
        ("weekly cost (£)", f"{b['total_weekly_cost']:,.0f}", f"{a['total_weekly_cost']:,.0f}"),
        ("mean distance (km)", f"{b['mean_distance_km']:.1f}", f"{a['mean_distance_km']:.1f}"),
        ("empty offered beds", f"{b['empty_offered_beds']:,}", f"{a['empty_offered_beds']:,}"),
    ]
    w0 = max(len(r[0]) for r in rows)
    lines = [f"\nre-allocation as of {rl['date']}: {rl['moves']} move(s) of children "
             f"already placed ({rl['left_unplaced']} left unplaced), {rl['new_placements']} "
             f"waiting child(ren) placed, {rl['chains']} chain(s)"]
    lines += [f"  {r[0]:<{w0}}  {r[1]:>14}  {r[2]:>14}" for r in rows]
    if "stability" in rl:
        st = rl["stability"]
        lines.append(f"  changed from the previous plan: {st['proposals_changed']} child(ren) "
                     f"(£{st['previous_weight']:,.0f} each)")
    if len(moves):
        lines.append("\nmoves:")
        for _, m in moves.head(limit).iterrows():
            to = m["to_placement"] or "(unplaced)"
            lines.append(f"  {m['child_id']}: {m['from_placement']} -> {to}: {m['why']}")
        if len(moves) > limit:
            lines.append(f"  ... and {len(moves) - limit} more in moves.csv")
    counts = ", ".join(f"{v} {k}" for k, v in rl["voids"].items())
    lines.append(f"\nvoid beds: {counts or 'none'} (voids.csv says why each empty one is)")
    return "\n".join(lines)
