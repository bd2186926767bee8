"""The sufficiency statement drafted for a committee: HTML and PDF, maps and charts.

Maps are drawn from the coordinates with matplotlib (no web tiles), over England's
district boundaries where the public data is at hand: children's homes, placements, the
journeys of children placed more than 20 miles away, and where the plan would recruit.
Every figure in the text comes from the analysis (run.py), whose allocation figures the
independent checker reproduces (tests/test_sufficiency_report.py).
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from .areas import boundary_lines  # noqa: E402
from .run import Analysis, plan_table, recruit_table  # noqa: E402

MILES = 1.609344


def money(x: float) -> str:
    return f"£{x:,.0f}"


def map_figure(a: Analysis) -> Figure:
    """Homes, placements, far journeys and the recruits of the plan."""
    inst = a.result.instance
    f = a.frame
    fig, ax = plt.subplots(figsize=(8, 7))
    for line in boundary_lines(np.concatenate([inst.home_lat, inst.lat]),
                               np.concatenate([inst.home_lon, inst.lon])):
        ax.plot(line[:, 0], line[:, 1], c="#cccccc", lw=0.5, zorder=0)
    ax.scatter(inst.lon, inst.lat, s=6 + 4 * np.minimum(inst.capacity, 6), marker="s",
               c="#4a6fa5", alpha=0.45, label="placements")
    placed = f["placed"].to_numpy()
    far = f["far"].to_numpy()
    ax.scatter(inst.home_lon[placed & ~far], inst.home_lat[placed & ~far], s=4, c="#999999",
               label="homes of children placed within 20 miles")
    a_idx = a.result.assignment
    for c in np.flatnonzero(far):
        p = a_idx[c]
        ax.plot([inst.home_lon[c], inst.lon[p]], [inst.home_lat[c], inst.lat[p]],
                c="#e69f00", lw=0.6, alpha=0.7)
    ax.scatter(inst.home_lon[far], inst.home_lat[far], s=10, c="#e69f00",
               label="homes of children placed more than 20 miles away")
    ax.scatter(inst.home_lon[~placed], inst.home_lat[~placed], s=30, marker="x", c="#d62728",
               label="homes of children left without a placement")
    if a.plan:
        ax.scatter([s.profile.lon for s in a.plan], [s.profile.lat for s in a.plan], s=160,
                   marker="*", c="#2ca02c", edgecolors="black", label="recruit (plan)")
        for s in a.plan:
            ax.annotate(str(s.step), (s.profile.lon, s.profile.lat), fontsize=8,
                        xytext=(4, 4), textcoords="offset points")
    pad = 0.05
    ax.set_xlim(min(inst.home_lon.min(), inst.lon.min()) - pad,
                max(inst.home_lon.max(), inst.lon.max()) + pad)
    ax.set_ylim(min(inst.home_lat.min(), inst.lat.min()) - pad,
                max(inst.home_lat.max(), inst.lat.max()) + pad)
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.set_aspect(1 / np.cos(np.radians(float(np.mean(inst.home_lat)))))
    ax.legend(loc="upper left", fontsize=7, framealpha=0.85)
    ax.set_title("Where children are from, where they live, and where to recruit")
    fig.tight_layout()
    return fig


def demand_figure(a: Analysis) -> Figure:
    """Unplaced and far-placed children by age band and by care-plan type."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, dim in zip(axes, ("age band", "type the care plan asks for"), strict=True):
        t = a.breakdown[a.breakdown["dimension"] == dim].head(8)
        y = np.arange(len(t))
        ax.barh(y - 0.2, t["unplaced"], height=0.4, color="#d62728", label="unplaced")
        ax.barh(y + 0.2, t["far_from_home"], height=0.4, color="#e69f00",
                label="placed > 20 miles")
        ax.set_yticks(y, [str(v)[:28] for v in t["value"]], fontsize=7)
        ax.invert_yaxis()
        ax.set_title(f"by {dim}", fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def value_figure(a: Analysis) -> Figure:
    """The shadow price of a bed by type (the best-placed area) and the plan's savings."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    t = a.beds.groupby("type")["max_bed_price"].max().sort_values()
    axes[0].barh(t.index, t.to_numpy(), color="#4a6fa5")
    axes[0].set_xlabel("£ a week saved by one more bed (best area)")
    axes[0].tick_params(axis="y", labelsize=7)
    if a.plan:
        steps = [s.step for s in a.plan]
        axes[1].plot(steps, np.cumsum([s.verified for s in a.plan]), "o-", c="#2ca02c",
                     label="verified")
        axes[1].plot(steps, np.cumsum([s.predicted for s in a.plan]), "x--", c="#777777",
                     label="predicted")
        axes[1].legend(fontsize=7)
    axes[1].set_xlabel("recruits")
    axes[1].set_ylabel("£ a week (model objective)")
    axes[1].set_title("the greedy plan, step by step", fontsize=9)
    fig.tight_layout()
    return fig


def figures(a: Analysis) -> dict[str, Figure]:
    return {"map": map_figure(a), "demand": demand_figure(a), "value": value_figure(a)}


def paragraphs(a: Analysis) -> list[str]:
    """The statement's findings in plain words."""
    t = a.totals
    out = [
        f"Of {t.children:,} children, {t.placed:,} can be placed with the placements "
        f"available and {t.unplaced:,} cannot. {t.far:,} would live more than 20 miles "
        f"from home. The placements cost {money(t.total_weekly_cost)} a week, and children "
        f"live on average {t.mean_distance_km:.1f} km ({t.mean_distance_km / MILES:.1f} "
        f"miles) from home. The allocation is {a.result.status} (the best the rules "
        f"allow{'' if a.base.proven else ', not yet proven'}).",
    ]
    if t.unplaced:
        hit = a.breakdown[a.breakdown["unplaced"] > 0].sort_values(
            ["share_unplaced", "unplaced"], ascending=False, kind="stable")
        hit = hit.drop_duplicates("dimension").head(4)
        parts = [f"{r['dimension']} {r['value']} ({r['unplaced']} of {r['children']} "
                 f"unplaced)" for r in hit.to_dict("records")]
        out.append("Unmet demand is highest, as a share, for: " + "; ".join(parts) + ".")
    top = a.beds.head(3)
    if len(top) and float(top["max_bed_price"].iloc[0]) > 0:
        parts = [f"{str(r['type']).replace('_', ' ')} in {r['area']} "
                 f"({money(float(r['max_bed_price']))})"
                 for r in top.to_dict("records") if float(r["max_bed_price"]) > 0]
        out.append("The value of capacity: one more bed would save most a week in "
                   + "; ".join(parts) + ". The price is what the allocation as a whole would "
                   "save with that bed: a high price means children go without a "
                   "placement, or far from home, for lack of it; zero means such beds "
                   "stand empty.")
    if a.plan:
        total = sum(s.verified for s in a.plan)
        gain = a.plan[-1].outcome.placed - a.base.placed
        out.append(
            f"Recruiting the {len(a.plan)} placement{'s' if len(a.plan) != 1 else ''} of "
            f"the plan below, in order, would "
            f"place {gain} more children and lower the model's weekly total (cost, "
            f"distance and children left unplaced, in pounds) by "
            f"{'' if all(s.exact for s in a.plan) else 'at least '}{money(total)}; every "
            f"step was checked by solving the allocation again with the recruit added.")
        if not all(s.exact for s in a.plan):
            out.append("Some of these solves stopped before proving the best allocation "
                       "(plan.csv, columns verified_is and status): their savings are "
                       "lower bounds, those of the allocations found, and may grow when "
                       "solved longer (--time-limit for the first solve; --full-resolves "
                       "with a longer --resolve-time-limit for each step).")
        first = a.plan[0]
        out.append(f"First: {first.profile.describe()}, at about "
                   f"{money(first.profile.weekly_cost)} a week a child.")
    return out


def embed(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def html_document(a: Analysis, figs: dict[str, Figure]) -> str:
    """A self-contained page: text, embedded figures, the tables."""
    def table(df: pd.DataFrame) -> str:
        return df.to_html(index=False, escape=True, border=0, classes="t", na_rep="")

    body = ["<h1>Placement sufficiency statement (draft)</h1>",
            f"<p class='src'>Instance: {html.escape(a.folder)}</p>",
            "<h2>Findings</h2>"]
    body += [f"<p>{html.escape(p)}</p>" for p in paragraphs(a)]
    body.append(f"<img alt='map of homes and placements' "
                f"src='data:image/png;base64,{embed(figs['map'])}'>")
    body += ["<h2>Unmet demand and children placed far from home</h2>",
             f"<img alt='unmet demand' src='data:image/png;base64,{embed(figs['demand'])}'>",
             table(a.breakdown),
             "<h2>The value of a bed</h2>",
             "<p>What one more bed of each type would save a week, from the model's "
             "capacity prices (its LP relaxation's duals).</p>",
             f"<img alt='bed values' src='data:image/png;base64,{embed(figs['value'])}'>",
             table(a.beds.head(40)),
             "<h2>Recommended recruitment</h2>",
             "<p>Each profile's saving predicted from the capacity prices, and verified "
             "by solving the allocation again with it added: exact where both solves "
             "proved their optimum, else a lower bound (column verified_is).</p>",
             table(recruit_table(a.recommendations)),
             "<h2>The plan, one recruit at a time</h2>",
             "<ol>" + "".join(f"<li>{html.escape(s.profile.describe())}: saves "
                              f"{'' if s.exact else 'at least '}{money(s.verified)} a "
                              f"week (verified{'' if s.exact else ', a lower bound'})</li>"
                              for s in a.plan) + "</ol>",
             table(plan_table(a.plan, a.base))]
    if a.scenarios is not None:
        body += ["<h2>Next year's demand</h2>",
                 "<p>How often each recommendation pays over scenarios of next year's "
                 "arrivals.</p>", table(a.scenarios)]
    style = ("body{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.4}"
             "table.t{border-collapse:collapse;font-size:80%}"
             "table.t td,table.t th{border-bottom:1px solid #ccc;padding:2px 6px}"
             "img{max-width:100%}.src{color:#666}")
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>Placement sufficiency statement</title><style>{style}</style></head>"
            f"<body>{''.join(body)}</body></html>\n")


def text_page(title: str, lines: list[str]) -> Figure:
    import textwrap
    fig = plt.figure(figsize=(8.27, 11.69))
    fig.text(0.08, 0.95, title, fontsize=15, weight="bold", va="top")
    y = 0.9
    for line in lines:
        for part in textwrap.wrap(line, 95) or [""]:
            fig.text(0.08, y, part, fontsize=9, va="top")
            y -= 0.018
        y -= 0.012
    return fig


def table_page(title: str, df: pd.DataFrame, rows: int = 35) -> Figure:
    fig = plt.figure(figsize=(11.69, 8.27))
    fig.text(0.03, 0.96, title, fontsize=12, weight="bold", va="top")
    ax = fig.add_axes((0.02, 0.02, 0.96, 0.88))
    ax.axis("off")
    shown = df.head(rows).astype(str).apply(lambda s: s.str.slice(0, 24))
    if len(shown):
        tab = ax.table(cellText=shown.to_numpy(), colLabels=list(shown.columns),
                       loc="upper left", cellLoc="left")
        tab.auto_set_font_size(False)
        tab.set_fontsize(6)
    return fig


def pdf_document(a: Analysis, figs: dict[str, Figure], path: Path) -> None:
    with PdfPages(path) as pdf:
        pages = [text_page("Placement sufficiency statement (draft)", paragraphs(a)),
                 figs["map"], figs["demand"], figs["value"],
                 table_page("Unmet demand and far placements", a.breakdown),
                 table_page("The value of a bed", a.beds),
                 table_page("Recommended recruitment", recruit_table(a.recommendations)),
                 table_page("The plan", plan_table(a.plan, a.base))]
        if a.scenarios is not None:
            pages.append(table_page("Next year's demand", a.scenarios))
        for fig in pages:
            pdf.savefig(fig)


def write_documents(a: Analysis, folder: Path) -> None:
    """statement.html, statement.pdf and the figures as PNG files into `folder`."""
    figs = figures(a)
    (folder / "statement.html").write_text(html_document(a, figs), encoding="utf-8")
    pdf_document(a, figs, folder / "statement.pdf")
    for name, fig in figs.items():
        fig.savefig(folder / f"{name}.png", dpi=110)
    plt.close("all")
