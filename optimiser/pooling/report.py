"""The pooling report: per authority alone and pooled, beds lent and borrowed, the shares.

Written to a folder, all or nothing (`optimiser.atomic`, as `optimiser.writer` does):

* `authorities.csv`: per authority, alone and pooled: objective, weekly cost, mean
  distance, unplaced; beds lent and borrowed; Shapley share of the gain; the cost it
  should bear; what it should pay (+) or receive (-);
* `lending.csv`: beds of each lender used by children of each borrower in the pooled plan;
* `coalitions.csv`: every coalition solved (members, objective, bound, status, seconds);
* `assignments.csv` and `summary.json`: the regional plan in the spec's output format
  (as `placement solve` writes it), so that `placement check INSTANCE OUT` verifies it;
* `pooling.json` (every figure) and `report.md` (the same in words).

Money is the spec's weekly objective (pounds a week, distance and unplaced penalties
included), not cash alone: a settlement in it shares the whole value of pooling.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..atomic import atomic_folder
from ..instance import Instance
from ..objective import pair_distances, pair_terms
from ..safe_text import safe_frame
from .run import Pooling
from .shapley import settlement

FILES = ("authorities.csv", "lending.csv", "coalitions.csv", "assignments.csv",
         "summary.json", "pooling.json", "report.md", "review.csv")


def child_objective(inst: Instance, plan: np.ndarray) -> np.ndarray:
    """Each child's part of the spec's objective under `plan` (placement or -1): its pair
    terms where placed, `unplaced * priority` where not; a split sibling group's penalty
    goes to its first member. Sums to the plan's objective."""
    out = inst.policy.weights.unplaced * inst.priority.astype(float)
    placed = np.flatnonzero(plan >= 0)
    p = plan[placed]
    out[placed] = pair_terms(inst, placed, p, pair_distances(inst, placed, p)).total
    if inst.policy.rules.split_siblings:
        g = inst.sibling_group
        for name in np.unique(g[(g != "") & (plan >= 0)]):
            kids = np.flatnonzero((g == name) & (plan >= 0))
            spread = len(np.unique(plan[kids]))
            out[kids[0]] += inst.policy.weights.sibling_split * (spread - 1)
    return out


def _side(inst: Instance, plan: np.ndarray, kids: np.ndarray) -> dict[str, float]:
    placed = kids[plan[kids] >= 0]
    km = pair_distances(inst, placed, plan[placed])
    return {"objective": float(child_objective(inst, plan)[kids].sum()),
            "weekly_cost": float(inst.weekly_cost[plan[placed]].sum()),
            "mean_distance_km": float(km.mean()) if len(km) else 0.0,
            "unplaced": int(len(kids) - len(placed))}


def lending(result: Pooling) -> np.ndarray:
    """Beds of lender j used by children of borrower i in the pooled plan: L[j, i]."""
    s = result.split
    n = s.n_players
    plan = result.pooled_plan
    kids = np.flatnonzero(plan >= 0)
    out = np.zeros((n, n), dtype=np.int64)
    np.add.at(out, (s.placement_owner[plan[kids]], s.child_owner[kids]), 1)
    return out


def authority_table(result: Pooling) -> pd.DataFrame:
    """One row per authority: alone against pooled, lent and borrowed, shares, settlement."""
    s, inst, sh = result.split, result.split.instance, result.shares
    lend = lending(result)
    rows = []
    pooled_obj = np.zeros(s.n_players)
    for i, name in enumerate(s.labels):
        kids = np.flatnonzero(s.child_owner == i)
        alone = _side(inst, result.alone_plan, kids)
        pooled = _side(inst, result.pooled_plan, kids)
        pooled_obj[i] = pooled["objective"]
        rows.append({"authority": name, "children": len(kids),
                     "placements": int((s.placement_owner == i).sum()),
                     **{f"alone_{k}": v for k, v in alone.items()},
                     **{f"pooled_{k}": v for k, v in pooled.items()},
                     "beds_lent": int(lend[i].sum() - lend[i, i]),
                     "beds_borrowed": int(lend[:, i].sum() - lend[i, i])})
    df = pd.DataFrame(rows)
    df["shapley_share"] = sh.share
    df["share_stderr"] = sh.stderr
    if result.share_lo is not None and result.share_hi is not None:
        df["share_low"] = result.share_lo  # the range the coalitions' bounds allow
        df["share_high"] = result.share_hi
    df["fair_cost"] = sh.allocated
    df["pay_or_receive"] = settlement(sh, pooled_obj)
    df["no_worse_than_alone"] = sh.allocated <= sh.alone + 1e-6 * max(abs(sh.pooled), 1.0)
    return df


def coalition_table(result: Pooling) -> pd.DataFrame:
    s, costs = result.split, result.costs
    rows = [{"coalition": s.label(m), "members": bin(m).count("1"),
             "objective": x.objective, "bound": x.bound, "status": x.status,
             "gap": (x.objective - x.bound) / max(abs(x.objective), 1.0),
             "seconds": round(x.seconds, 3), "best_known_cost": costs.cost(m)}
            for m, x in sorted(costs.solved.items(), key=lambda kv: (bin(kv[0]).count("1"),
                                                                        kv[0]))]
    return pd.DataFrame(rows)


def pooled_output(result: Pooling) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The regional plan as the spec's assignments.csv and summary.json."""
    inst, plan = result.split.instance, result.pooled_plan
    placed = np.flatnonzero(plan >= 0)
    cost = np.full(inst.n_children, np.nan)
    km = np.full(inst.n_children, np.nan)
    cost[placed] = inst.weekly_cost[plan[placed]]
    km[placed] = pair_distances(inst, placed, plan[placed])
    asg = pd.DataFrame({"child_id": inst.child_ids,
                        "placement_id": np.where(plan >= 0, inst.placement_ids[
                            np.maximum(plan, 0)], ""),
                        "weekly_cost": np.round(cost, 2), "distance_km": np.round(km, 3),
                        "authority": np.asarray(result.split.labels, dtype=object)[
                            result.split.child_owner]})
    costs = result.costs
    grand = result.split.grand
    objective = float(child_objective(inst, plan).sum())
    proven = costs.proven(grand)
    bound = costs.bound(grand) if grand in costs.solved else -np.inf
    bound = objective if proven else bound
    gap = (objective - bound) / max(abs(objective), 1.0) if np.isfinite(bound) else None
    summary = {"status": "optimal" if proven else "feasible", "objective": round(objective, 6),
               "best_bound": round(bound, 6) if np.isfinite(bound) else None,
               "gap": gap, "solve_seconds": round(result.seconds, 3),
               "placed": len(placed), "unplaced": int(inst.n_children - len(placed)),
               "total_weekly_cost": round(float(cost[placed].sum()), 2),
               "mean_distance_km": round(float(km[placed].mean()), 6) if len(placed) else 0.0,
               "children": inst.n_children, "placements": inst.n_placements}
    return asg, summary


def figures(result: Pooling, table: pd.DataFrame) -> dict[str, Any]:
    sh, chk = result.shares, result.check
    solved = result.costs.solved.values()
    proven = sum(x.status == "optimal" for x in solved)
    worst_gap = max(((x.objective - x.bound) / max(abs(x.objective), 1.0) for x in solved),
                    default=0.0)
    return {
        "definition": "cost of a coalition = the spec's weekly objective (pounds a week, "
                      "unplaced penalties included) of its own children on its own "
                      "placements, under the instance's one policy",
        "authorities": list(result.split.labels),
        "alone_total": float(sh.alone.sum()), "pooled": sh.pooled, "gain": sh.gain,
        "pooled_proven_optimal": result.costs.proven(result.split.grand),
        "shapley": {"exact": sh.exact, "samples": sh.samples,
                    "stratified": sh.forms is not None,
                    "coalitions_solved": len(result.costs.solved),
                    "coalitions_proven_optimal": proven,
                    "largest_coalition_gap": worst_gap,
                    "coalition_method": result.costs.method},
        "stand_alone_check": {"no_authority_worse_off": chk.individual_ok,
                              "no_group_worse_off": chk.core_ok,
                              "coalitions_tested": chk.tested,
                              "worst_coalition": result.split.label(chk.worst_mask)
                              if chk.worst_mask else None,
                              "worst_excess": chk.worst_excess},
        "seconds": round(result.seconds, 3), "timings_seconds": result.timings,
        "time_limit_per_coalition": result.options.time_limit, "mapper": result.mapper,
        "per_authority": table.to_dict(orient="records"),
    }


def markdown(result: Pooling, table: pd.DataFrame, instance: str) -> str:
    sh, chk = result.shares, result.check
    how = "exact (every coalition solved)" if sh.exact else (
        f"estimated from {sh.samples} random orders of joining (± one standard error shown)"
        if sh.forms is None else
        f"stratified by the position of joining: first (alone) and last (after everyone "
        f"else) exactly, the positions between from {sh.samples} random orders (± one "
        f"standard error shown)")
    lines = [f"# What pooling gains: {instance}", "",
             f"{len(result.split.names)} authorities. The cost of a group of authorities is "
             "the weekly objective of the placement rules (pounds a week: placement cost, "
             "distance, faith, moves, out of area, and the penalty for each child left "
             "unplaced) of its own children placed only in its own placements.", "",
             f"- Each alone: £{sh.alone.sum():,.2f} a week in total.",
             f"- Pooled: £{sh.pooled:,.2f} a week"
             + ("" if result.costs.proven(result.split.grand) else
                " (best plan found in the time limit, not proven optimal)") + ".",
             f"- Gain of pooling: £{sh.gain:,.2f} a week, shared by the Shapley value, {how}.",
             "- " + proof_text(result),
             "- Stand-alone check: " + ("no authority bears more than alone"
                                        if chk.individual_ok else
                                        "SOME AUTHORITY WOULD BEAR MORE THAN ALONE")
             + "; " + (f"no group of authorities bears more than on its own "
                       f"({chk.tested} groups tested)." if chk.core_ok else
                       f"the group {result.split.label(chk.worst_mask)} would bear "
                       f"£{chk.worst_excess:,.2f} a week more than on its own: it could "
                       "do better by leaving (the split is not in the core)."), "",
             "| authority | children | unplaced alone | pooled | mean km alone | pooled | "
             "beds lent | borrowed | share of gain | should pay (+) / receive (-) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in table.to_dict(orient="records"):
        err = f" ± {r['share_stderr']:,.0f}" if not sh.exact else ""
        lines.append(f"| {r['authority']} | {r['children']} | {r['alone_unplaced']} | "
                     f"{r['pooled_unplaced']} | {r['alone_mean_distance_km']:.1f} | "
                     f"{r['pooled_mean_distance_km']:.1f} | {r['beds_lent']} | "
                     f"{r['beds_borrowed']} | £{r['shapley_share']:,.2f}{err} | "
                     f"£{r['pay_or_receive']:,.2f} |")
    lines += ["", "A payment settles the difference between the cost an authority should "
              "bear (alone less its share of the gain) and what its own children cost in "
              "the pooled plan; payments add up to zero. The pooled plan is in "
              "`assignments.csv` and `summary.json`, the format's output, for "
              "`placement check`."]
    return "\n".join(lines) + "\n"


def proof_text(result: Pooling) -> str:
    """How far the coalition costs behind the shares are proven, in words."""
    solved = result.costs.solved.values()
    proven = sum(x.status == "optimal" for x in solved)
    text = f"Coalitions priced: {len(solved)}, {proven} proven optimal"
    if proven == len(solved) or result.share_lo is None or result.share_hi is None:
        return text + "."
    width = float(np.max(result.share_hi - result.share_lo))
    return (text + f"; the others are known within their bounds, which would move a "
            f"share by up to £{width:,.2f} a week (share_low, share_high in "
            "authorities.csv).")


def write_report(result: Pooling, out: str | Path, *, instance: str = "") -> Path:
    """Write the report folder (module doc): everything lands, or nothing does."""
    out = Path(out)
    table = authority_table(result)
    asg, summary = pooled_output(result)
    lend = lending(result)
    names = list(result.split.labels)
    lend_df = pd.DataFrame(lend, columns=names)
    lend_df.insert(0, "lender", names)
    with atomic_folder(out, FILES) as tmp:
        safe_frame(table).to_csv(tmp / "authorities.csv", index=False)
        safe_frame(lend_df).to_csv(tmp / "lending.csv", index=False)
        safe_frame(coalition_table(result)).to_csv(tmp / "coalitions.csv", index=False)
        safe_frame(asg).to_csv(tmp / "assignments.csv", index=False)
        (tmp / "summary.json").write_text(json.dumps(_finite(summary), indent=2) + "\n")
        (tmp / "pooling.json").write_text(json.dumps(_finite(figures(result, table)),
                                                     indent=2, default=_json) + "\n")
        (tmp / "report.md").write_text(markdown(result, table, instance), encoding="utf-8")
    return out


def _finite(x: Any) -> Any:
    """JSON has no NaN or infinity: None instead."""
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_finite(v) for v in x]
    if isinstance(x, float | np.floating) and not np.isfinite(x):
        return None
    return x


def _json(x: Any) -> Any:
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating | np.bool_):
        return x.item()
    raise TypeError(f"not JSON: {type(x).__name__}")
