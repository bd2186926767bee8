"""`placement plan-capacity`: run the capacity plan and write what a committee reads.

One command gives the decision (beds per contract), its expected cost with a 95%
interval, the risk (utilisation, children out of area or > 20 miles away), the picture
(cost curve) and, with ``--set``, a what-if against the same scenarios. Output is written
to a temporary folder next to ``--out`` and renamed into place only when everything is
written, so an error never leaves a half-written plan.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TextIO

WEEKS_PER_YEAR = 52.0  # fallback when a plan does not say (weekly x 52)


@dataclass
class CapacityRun:
    """A base plan, and optionally the same plan with ``--set`` changes."""

    instance: str
    data: Any  # CommissionData
    plan: Any  # Plan
    sets: tuple[str, ...] = ()
    changed_data: Any = None
    changed: Any = None  # Plan with the overrides, same scenario seed
    engine: str = ""  # where the scenario solves ran
    runtime: float = 0.0
    command: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def what_if(self) -> dict[str, Any] | None:
        return None if self.changed is None else what_if_diff(self.plan, self.changed, self.sets)


# ----------------------------------------------------------------------------- running


def run_plan_capacity(instance: str, n_scenarios: int, *, seed: int = 0,
                      time_limit_per_scenario: float = 10.0, sets: Sequence[str] = (),
                      scheduler: str | None = None, workers: int | None = None,
                      progress: bool = True, log: TextIO | None = None,
                      deadline: float | None = None,
                      loaded: Callable[[Any], None] | None = None) -> CapacityRun:
    """Load, sample, plan (and re-plan with ``sets``) with one mapper for every sweep.
    ``loaded`` is told the commissioning data once read (what a time limit's last resort
    writes from).

    ``deadline`` (a time.perf_counter() value): planning ends by then (the what-if plan,
    if any, has the second half of the time left after loading); each plan is made on
    the scenarios its first batch finishes (`plan_capacity`).

    The what-if plan samples its scenarios from the changed data with the *same seed*:
    identical scenarios when only prices or beds change, common random numbers when
    demand changes, so the difference is the change's effect and not sampling noise.
    """
    from . import apply_overrides, load_commission, plan_capacity, sample_scenarios
    from .dist import make_mapper

    log = log or sys.stderr
    t0 = time.perf_counter()
    data = load_commission(instance)
    if loaded is not None:
        loaded(data)
    changed_data = apply_overrides(data, list(sets)) if sets else None
    for w in data.warnings:
        print(f"warning: {w}", file=log)
    if progress:
        print(f"loaded {instance}: {len(data.contracts)} candidate contract(s), "
              f"{len(data.spot)} spot option(s)", file=log)
    scenarios = sample_scenarios(data, n=n_scenarios, seed=seed)
    changed_scen = None
    if changed_data is not None:
        changed_scen = sample_scenarios(changed_data, n=n_scenarios, seed=seed)
        if len(changed_scen) == len(scenarios) and all(
                a.name == b.name and a.children.equals(b.children)
                for a, b in zip(scenarios, changed_scen, strict=True)):
            changed_scen = scenarios  # a price or beds what-if: the very same objects, so
            # Dask sends nothing again and each scenario stays on its worker's cache
    def say(msg: str) -> None:
        if progress:  # elapsed seconds first: when the recommendation was known
            print(f"[{time.perf_counter() - t0:7.1f}s] {msg}", file=log, flush=True)

    with make_mapper(scheduler, workers, progress, stream=log) as mapper:
        engine = mapper.describe()
        if progress:
            print(f"solving {n_scenarios} scenario(s) per candidate plan on {engine}", file=log)
        base_by = deadline
        if deadline is not None and changed_data is not None:
            base_by = time.perf_counter() + (deadline - time.perf_counter()) / 2
        plan = plan_capacity(data, scenarios, mapper=mapper, seed=seed,
                             time_limit_per_scenario=time_limit_per_scenario, progress=say,
                             deadline=base_by)
        changed = None
        if changed_data is not None and changed_scen is not None:
            if progress:
                print(f"what-if: {', '.join(sets)}", file=log)
            changed = plan_capacity(changed_data, changed_scen, mapper=mapper, seed=seed,
                                    time_limit_per_scenario=time_limit_per_scenario,
                                    progress=say, deadline=deadline)
    return CapacityRun(instance=instance, data=data, plan=plan, sets=tuple(sets),
                       changed_data=changed_data, changed=changed, engine=engine,
                       runtime=time.perf_counter() - t0)


# ----------------------------------------------------------------------------- measures


def annual_factor(plan: Any) -> float:
    """Weeks per year the plan used for its annual cost (52 when it cannot be told)."""
    w, a = float(plan.expected_weekly_cost), float(plan.expected_annual_cost)
    return a / w if w > 0 and a > 0 else WEEKS_PER_YEAR


def what_if_diff(base: Any, changed: Any, sets: Sequence[str]) -> dict[str, Any]:
    """Beds per contract and expected costs, base against changed, and the differences."""
    ids = list(dict.fromkeys([*base.beds, *changed.beds]))
    beds = {c: {"base": int(base.beds.get(c, 0)), "changed": int(changed.beds.get(c, 0)),
                "difference": int(changed.beds.get(c, 0)) - int(base.beds.get(c, 0))}
            for c in ids}

    def pair(name: str) -> dict[str, float]:
        b, c = float(getattr(base, name)), float(getattr(changed, name))
        return {"base": b, "changed": c, "difference": c - b}

    return {
        "set": list(sets),
        "beds": beds,
        "expected_weekly_cost": pair("expected_weekly_cost"),
        "expected_annual_cost": pair("expected_annual_cost"),
        "block_weekly_cost": pair("block_weekly_cost"),
        "interval": {"base": [float(x) for x in base.interval],
                     "changed": [float(x) for x in changed.interval]},
        "share_out_of_area": pair("share_out_of_area"),
        "share_over_20_miles": pair("share_over_20_miles"),
    }


def build_plan_json(run: CapacityRun) -> dict[str, Any]:
    """plan.json: the engine's own plan_to_json, plus how it was run and the what-if."""
    from . import plan_to_json

    out = dict(plan_to_json(run.plan))
    # The contract of plan.json, whatever plan_to_json chose to name things.
    out["beds"] = {c: int(b) for c, b in run.plan.beds.items()}
    out["expected_weekly_cost"] = float(run.plan.expected_weekly_cost)
    out["interval"] = [float(x) for x in run.plan.interval]
    out["run"] = {"instance": run.instance, "engine": run.engine,
                  "runtime_seconds": round(run.runtime, 3), "command": run.command,
                  "written": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    wi = run.what_if()
    if wi is not None:
        wi["plan"] = plan_to_json(run.changed)
        out["what_if"] = wi
    return _jsonable(out)


def _jsonable(x: Any) -> Any:
    """Plain JSON: numpy scalars to numbers, tuples to lists, NaN/inf to None."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if hasattr(x, "item") and callable(x.item) and not isinstance(x, str | bytes):
        try:
            x = x.item()
        except (TypeError, ValueError):
            return str(x)
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, bool | int | float | str) or x is None:
        return x
    return str(x)


def contract_rows(data: Any, plan: Any) -> list[dict[str, Any]]:
    """One row per candidate contract: what it is, today's beds, the recommendation."""
    rows = []
    for c in data.contracts:
        beds = int(plan.beds.get(c.contract_id, 0))
        rows.append({
            "contract": c.contract_id, "provider": c.provider, "type": c.type,
            "ages": f"{c.age_min}-{c.age_max}", "price": float(c.weekly_price),
            "today": int(c.current_beds), "beds": beds,
            "block_cost": float(c.weekly_price) * beds,
            "utilisation": plan.utilisation.get(c.contract_id),
            "offered": _offered(c), "term": int(getattr(c, "min_term_weeks", 0) or 0),
            "at_max": beds > 0 and beds == max([int(v) for v in getattr(c, "levels", ())]
                                               or [int(c.max_beds)]),
        })
    return rows


def _offered(c: Any) -> str:
    """The bed levels a provider offers, as a committee would say it."""
    fixed = getattr(c, "fixed_beds", None)
    if fixed is not None:
        return f"fixed at {fixed} (what-if)"
    step = int(c.step)
    levels = [int(v) for v in getattr(c, "levels", ())] or [
        0, *range(int(c.min_beds), int(c.max_beds) + 1, step)]
    nonzero = [v for v in levels if v > 0]
    if not nonzero:
        return "0"
    lo, hi = nonzero[0], nonzero[-1]
    if lo == hi:
        return f"0 or {hi}"
    by = f" by {step}" if step != 1 else ""
    return f"0-{hi}{by}" if lo == step else f"0 or {lo}-{hi}{by}"


TYPE_NAMES = {"ifa_foster": "IFA foster", "inhouse_foster": "in-house foster",
              "kinship_foster": "kinship foster", "inhouse_residential": "in-house home",
              "external_residential": "external children's home",
              "supported_accommodation": "supported accommodation", "secure": "secure",
              "parent_and_child": "parent and child"}
METHODS = {"benders": "L-shaped (Benders) decomposition on the LP relaxation of the second "
                      "stage, then an integer local search over neighbouring bed levels",
           "enumerate": "every combination of bed levels solved as an integer problem"}


def _type(t: str) -> str:
    return TYPE_NAMES.get(t, t.replace("_", " "))


# ----------------------------------------------------------------------------- text


def _money(x: float | None) -> str:
    return "n/a" if x is None or not math.isfinite(float(x)) else f"£{float(x):,.0f}"


def _pct(x: float | None) -> str:
    return "n/a" if x is None or not math.isfinite(float(x)) else f"{100 * float(x):.1f}%"


def _signed_money(x: float) -> str:
    return f"{'+' if x > 0 else '-' if x < 0 else '±'}£{abs(x):,.0f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]],
           right: Sequence[bool] | None = None) -> list[str]:
    right = right or [False] * len(header)
    w = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h))
         for i, h in enumerate(header)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(str(c).rjust(w[i]) if right[i] else str(c).ljust(w[i])
                         for i, c in enumerate(cells)).rstrip()

    return [line(header), line(["-" * x for x in w]), *(line(r) for r in rows)]


def _baseline(plan: Any, key: str) -> Any:
    b = plan.baseline or {}
    return b.get(key)


def _asked(plan: Any) -> str:
    """Words for the scenarios the time limit left out, or nothing when none was."""
    asked = int(plan.stats.get("scenarios_asked", plan.n_scenarios))
    if asked <= plan.n_scenarios:
        return ""
    return (f" of {asked} asked: the time limit left time to solve only these, and the "
            "plan is made on them")


def format_summary(run: CapacityRun) -> str:
    """The short table printed by the command (the report has the rest)."""
    p = run.plan
    rows = [[r["contract"], r["provider"], r["type"], _money(r["price"]), str(r["today"]),
             str(r["beds"]), _pct(r["utilisation"])] for r in contract_rows(run.data, p)]
    lines = _table(["contract", "provider", "type", "price/bed/wk", "today", "book",
                    "utilisation"], rows, [False, False, False, True, True, True, True])
    lo, hi = p.interval
    base_w = _baseline(p, "expected_weekly_cost")
    lines += [
        "",
        f"expected weekly cost   {_money(p.expected_weekly_cost)}  "
        f"(95% interval {_money(lo)} to {_money(hi)})",
        f"expected annual cost   {_money(p.expected_annual_cost)}",
        f"today's arrangements   {_money(base_w)} a week"
        + (f" ({_signed_money(float(p.expected_weekly_cost) - float(base_w))} with the plan)"
           if base_w is not None else ""),
        f"out of area / >20 mi   {_pct(p.share_out_of_area)} / {_pct(p.share_over_20_miles)}"
        f"  (today: {_pct(_baseline(p, 'share_out_of_area'))} / "
        f"{_pct(_baseline(p, 'share_over_20_miles'))})",
        f"value of stochastic    {_money(p.vss)} a week against planning for average demand",
        f"scenarios              {p.n_scenarios}{_asked(p)} (seed {p.seed}), {p.method}, "
        f"on {run.engine}, {run.runtime:.1f}s",
    ]
    wi = run.what_if()
    if wi is not None:
        lines += ["", f"what-if ({', '.join(wi['set'])}):"]
        rows = [[c, str(v["base"]), str(v["changed"]),
                 f"{v['difference']:+d}" if v["difference"] else "0"]
                for c, v in wi["beds"].items()]
        lines += ["  " + x for x in _table(["contract", "base", "what-if", "change"], rows,
                                           [False, True, True, True])]
        e = wi["expected_weekly_cost"]
        lines.append(f"  expected weekly cost {_money(e['base'])} -> {_money(e['changed'])} "
                     f"({_signed_money(e['difference'])})")
    return "\n".join(lines)


def render_markdown(run: CapacityRun, figure: str = "cost_curve.png") -> str:
    """report.md: a committee paper, in plain words, with the figure."""
    p, data = run.plan, run.data
    f = annual_factor(p)
    lo, hi = (float(x) for x in p.interval)
    rows = contract_rows(data, p)
    booked = [r for r in rows if r["beds"] > 0]
    md: list[str] = [
        "# Block-booking recommendation",
        "",
        f"Instance `{run.instance}`; {p.n_scenarios} demand scenarios for the coming year "
        f"(seed {p.seed}){_asked(p)}. Written "
        f"{dt.datetime.now(dt.timezone.utc).strftime('%d %B %Y %H:%M UTC')}.",
        "",
        "## Recommendation",
        "",
    ]
    if booked:
        md.append("Book " + "; ".join(
            f"**{r['beds']} bed{'s' if r['beds'] != 1 else ''}** with {r['provider']} "
            f"({r['contract']}, {_type(r['type'])}, {_money(r['price'])} a bed a week)"
            for r in booked) + ". Decline the other candidate contracts; children beyond these "
            "beds and in-house capacity are placed at spot prices.")
    else:
        md.append("Book **no block beds**: across the scenarios, spot purchase at framework "
                  "prices is cheaper than any candidate contract.")
    md += ["", "| contract | provider | type | ages | beds offered | minimum term "
           "| price per bed a week | beds today | recommended beds | block cost a week "
           "| expected utilisation |",
           "|---|---|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        md.append(f"| {r['contract']} | {r['provider']} | {_type(r['type'])} | "
                  f"{r['ages']} | {r['offered']} | {r['term']} weeks | {_money(r['price'])} | "
                  f"{r['today']} | **{r['beds']}** | {_money(r['block_cost'])} | "
                  f"{_pct(r['utilisation'])} |")
    md += ["", "Utilisation is the average share of the booked beds occupied across the "
           "scenarios: an empty block bed is still paid for."]
    at_max = [r for r in rows if r["at_max"]]
    if at_max:
        md.append("The recommendation takes every bed offered on "
                  + ", ".join(f"{r['contract']} ({r['beds']})" for r in at_max)
                  + ": more beds there would probably still pay, worth asking the provider.")
    md.append("")

    md += ["## Cost and risk", "",
           "| | recommended plan | today's arrangements |", "|---|---:|---:|"]
    bw, bi = _baseline(p, "expected_weekly_cost"), _baseline(p, "interval")
    bblock = _baseline(p, "block_weekly_cost")
    bi_txt = (f"{_money(bi[0])} to {_money(bi[1])}" if bi is not None and len(bi) == 2
              else "n/a")
    md += [
        f"| block beds booked | {sum(int(b) for b in p.beds.values())} | "
        f"{sum(int(c.current_beds) for c in data.contracts)} |",
        f"| block cost a week (paid whatever happens) | {_money(p.block_weekly_cost)} | "
        f"{_money(bblock)} |",
        f"| expected cost a week | **{_money(p.expected_weekly_cost)}** | {_money(bw)} |",
        f"| 95% interval of the expected weekly cost | {_money(lo)} to {_money(hi)} | "
        f"{bi_txt} |",
        f"| expected cost a year | **{_money(p.expected_annual_cost)}** | "
        f"{_money(None if bw is None else float(bw) * f)} |",
        f"| children placed out of area (off-framework spot) | {_pct(p.share_out_of_area)} | "
        f"{_pct(_baseline(p, 'share_out_of_area'))} |",
        f"| children placed more than 20 miles away | {_pct(p.share_over_20_miles)} | "
        f"{_pct(_baseline(p, 'share_over_20_miles'))} |",
        f"| children left without a placement (mean per scenario) | {p.unplaced_mean:.2f} | "
        f"{_num(_baseline(p, 'unplaced_mean'))} |",
        "",
    ]
    if bw is not None:
        d = float(p.expected_weekly_cost) - float(bw)
        md.append(f"Against today's arrangements the plan {'saves' if d < 0 else 'costs'} "
                  f"{_money(abs(d))} a week ({_money(abs(d) * f)} a year) in expectation.")
    md += [f"The 95% interval ({_money(lo)} to {_money(hi)} a week) is for the expected cost "
           "(the sample average over the scenarios); a single year's cost varies more, "
           f"from {_money(min(p.scenario_costs))} to {_money(max(p.scenario_costs))} a week "
           "across the scenarios.", ""]

    md += ["## Why not plan for average demand?", ""]
    ev = ", ".join(f"{c} {int(b)}" for c, b in p.ev_beds.items()) or "none"
    same = {c: int(b) for c, b in p.ev_beds.items()} == {c: int(b) for c, b in p.beds.items()}
    if same:
        md += [f"Planning for the average year alone gives the same beds ({ev}), so the *value "
               f"of the stochastic solution* is {_money(p.vss)} a week here: in these "
               "scenarios the spread of demand does not change the decision, and the "
               "recommendation does not rest on a single forecast being right.", ""]
    else:
        md += [f"Booking for the average year alone (beds {ev}) would cost "
               f"{_money(p.eev)} a week in expectation once real demand varies; the "
               f"recommended plan costs {_money(p.expected_weekly_cost)} on the same scenarios. "
               f"This difference, the *value of the stochastic solution*, is {_money(p.vss)} a "
               f"week ({_money(float(p.vss) * f)} a year): what planning for the spread of "
               "demand, and not only its average, is worth.", ""]

    wi = run.what_if()
    if wi is not None:
        md += ["## What if", "", f"Changed: `{'`, `'.join(wi['set'])}` (same scenarios and "
               "seed as the base plan).", "",
               "| contract | base plan beds | what-if beds | change |", "|---|---:|---:|---:|"]
        for c, v in wi["beds"].items():
            md.append(f"| {c} | {v['base']} | {v['changed']} | {v['difference']:+d} |")
        e, a = wi["expected_weekly_cost"], wi["expected_annual_cost"]
        ci = wi["interval"]["changed"]
        md += ["", f"Expected weekly cost: {_money(e['base'])} → {_money(e['changed'])} "
               f"({_signed_money(e['difference'])}; 95% interval {_money(ci[0])} to "
               f"{_money(ci[1])}). Expected annual cost: {_money(a['base'])} → "
               f"{_money(a['changed'])} ({_signed_money(a['difference'])}).", ""]

    md += ["## Cost curve", "",
           f"![Expected weekly cost against beds booked]({figure})", "",
           "Each line varies one contract's beds with the other contracts at their "
           "recommended level; the filled marker is the recommendation, the open one today's "
           "beds.", "",
           "## Method", "",
           "Two-stage stochastic programme by sample average approximation, solved by "
           f"{METHODS.get(p.method, p.method)}. First "
           "stage: beds booked per contract, in the steps each provider offers. Second stage, "
           "in every scenario: the engine's own allocation of that year's children to in-house "
           "beds, booked block beds and spot purchase, with all the matching rules, weighted as "
           "the authority's objective. The plan minimises the block cost plus the average "
           f"second-stage cost over {p.n_scenarios} scenarios sampled from the demand model "
           f"(seed {p.seed}); the interval is the 95% Student t interval of that mean. "
           f"Scenario solves: {run.engine}; total {run.runtime:.0f} s.", ""]
    return "\n".join(md)


def _num(x: Any) -> str:
    return "n/a" if x is None else f"{float(x):.2f}"


# ----------------------------------------------------------------------------- figure


def plot_cost_curve(run: CapacityRun, path: Path | BinaryIO) -> None:
    """cost_curve.png: expected weekly cost against beds booked, one line per contract."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    p = run.plan
    fig = Figure(figsize=(8, 5), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    today = {c.contract_id: int(c.current_beds) for c in run.data.contracts}
    providers = {c.contract_id: str(c.provider) for c in run.data.contracts}
    for i, (cid, pts) in enumerate(p.curve.items()):
        if not pts:
            continue
        pts = sorted((int(b), float(v)) for b, v in pts)
        colour = f"C{i % 10}"
        xs, ys = [b for b, _ in pts], [v for _, v in pts]
        ax.plot(xs, ys, "-", color=colour, marker=".", label=f"{cid} ({providers.get(cid, '')})")
        rec = int(p.beds.get(cid, 0))
        at = dict(pts)
        if rec in at:
            ax.plot([rec], [at[rec]], "o", color=colour, markersize=10)
        if today.get(cid) in at and today.get(cid) != rec:
            ax.plot([today[cid]], [at[today[cid]]], "o", color=colour, markersize=9,
                    markerfacecolor="none")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("beds booked on the contract (others at the recommendation)")
    ax.set_ylabel("expected weekly cost (£)")
    ax.yaxis.set_major_formatter(lambda v, _pos: f"£{v:,.0f}")
    ax.set_title(f"Expected weekly cost against beds booked ({p.n_scenarios} scenarios)")
    ax.grid(True, alpha=0.3)
    if p.curve:
        ax.legend(title="contract (● recommended, ○ today)", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)


# ----------------------------------------------------------------------------- writing


def figure_png(run: CapacityRun) -> bytes:
    """cost_curve.png's bytes (drawn before the writing starts: drawing is the slow part)."""
    buf = io.BytesIO()
    plot_cost_curve(run, buf)
    return buf.getvalue()


def write_outputs(run: CapacityRun, out: str | Path, figure: bytes | None = None,
                  note: str = "") -> Path:
    """plan.json, report.md and cost_curve.png into ``out``, all or nothing. `figure`:
    cost_curve.png's bytes when drawn already (else drawn here); `note`: a paragraph
    ending the report.

    Everything goes into a temporary folder beside ``out`` first, then is renamed into
    place; a previous ``out`` is replaced only after the new one is complete.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out {out} exists and is not a folder")
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        (tmp / "plan.json").write_text(json.dumps(build_plan_json(run), indent=1) + "\n",
                                       encoding="utf-8")
        if figure is None:
            plot_cost_curve(run, tmp / "cost_curve.png")
        else:
            (tmp / "cost_curve.png").write_bytes(figure)
        report = render_markdown(run) + (f"\n\n{note}" if note else "")
        (tmp / "report.md").write_text(report + "\n", encoding="utf-8")
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)  # mkdtemp's 0700 would hide the plan from colleagues
        old = None
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            os.replace(out, old)
        try:
            os.replace(tmp, out)
        except BaseException:
            if old is not None:
                os.replace(old, out)  # put the previous plan back
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
