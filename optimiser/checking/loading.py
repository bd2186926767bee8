"""The instance read from its files on its own: a folder of CSV files plus policy.toml, or
one .xlsx workbook with the same sheets, and optionally Ofsted's provider list.

The checker shares no reading code with the engine, so that a mistake in the engine's
reader cannot hide itself by being made twice.
"""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from optimiser.categories import NOT_RATED
from optimiser.checking.cells import SEP, area, clean_table, number_column, read_csv
from optimiser.checking.policy import Policy, policy_from_mapping, policy_from_sheet
from optimiser.checking.tables import prepare_children, prepare_placements

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 only
    import tomli as tomllib

SHEETS = ("children", "placements", "exclusions", "distances", "adjoining")


@dataclass(frozen=True)
class SpecInstance:
    """An instance as the checker reads it: parsed tables, pair sets keyed by SEP, policy."""

    children: pd.DataFrame  # indexed by child_id, parsed columns
    placements: pd.DataFrame  # indexed by placement_id, parsed columns
    exclusions: frozenset[str]  # child_id + SEP + placement_id
    distances: dict[str, float]  # child_id + SEP + placement_id -> km
    policy: Policy
    adjoining: frozenset[str] | None = None  # authority + SEP + neighbour, both orders

    @property
    def move_rule(self) -> bool:
        """move_only_in_child_interest: as the policy says, on by default."""
        return self.policy.move_only_in_child_interest


def pair_table(raw: pd.DataFrame | None, what: str) -> pd.DataFrame:
    """A (child_id, placement_id) table, empty when the file is absent or has no rows."""
    if raw is None or raw.empty:
        return pd.DataFrame({"child_id": [], "placement_id": []}, dtype=str)
    missing = [c for c in ("child_id", "placement_id") if c not in raw.columns]
    if missing:
        raise ValueError(f"{what}: missing column(s) {missing}")
    return raw


def ofsted_list(path: str | Path) -> dict[str, str]:
    """Ofsted's provider-level list: URN -> rating word, read on its own from the layout
    (title lines, then a header with URN and the overall judgement)."""
    lines = Path(path).read_text(encoding="utf-8-sig").splitlines()
    at = next((i for i, line in enumerate(lines) if line.startswith(("URN,", "Web link,URN,"))
               or ",URN," in line), None)
    if at is None:
        raise ValueError(f"{path}: no header row with URN")
    df = clean_table(pd.read_csv(io.StringIO("\n".join(lines[at:])), dtype=str,
                                 keep_default_na=False))
    overall = "overall experiences and progress of children and young people"
    words = {"outstanding": "outstanding", "good": "good",
             "requires improvement to be good": "requires_improvement",
             "requires improvement": "requires_improvement", "inadequate": "inadequate"}
    return {u: words.get(" ".join(j.split()).lower(), NOT_RATED)
            for u, j in zip(df["urn"], df[overall], strict=True) if u}


def _read_sheets(path: Path) -> tuple[dict[str, pd.DataFrame | None], dict[str, Any]]:
    """The instance's tables (None where absent) and its policy in the TOML shape."""
    if path.is_dir():
        sheets: dict[str, pd.DataFrame | None] = {}
        for name in SHEETS:
            f = path / f"{name}.csv"
            sheets[name] = read_csv(f) if f.exists() else None
        toml_path = path / "policy.toml"
        if not toml_path.exists():
            return sheets, {}
        with toml_path.open("rb") as fh:
            return sheets, tomllib.load(fh)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        book = pd.read_excel(path, sheet_name=None, dtype=str, keep_default_na=False)
        by_name = {str(k).strip().lower(): v for k, v in book.items()}
        sheets = {n: (clean_table(by_name[n]) if n in by_name else None) for n in SHEETS}
        return sheets, (policy_from_sheet(by_name["policy"]) if "policy" in by_name else {})
    raise ValueError(f"instance {path} is neither a folder nor an .xlsx workbook")


def _overlay_policy(raw: dict[str, Any], policy_file: str | Path) -> None:
    """`policy_file` laid over the instance's policy, key by key (as `solve --policy`)."""
    with Path(policy_file).open("rb") as fh:
        for table, values in tomllib.load(fh).items():
            if isinstance(values, dict):
                raw.setdefault(table, {}).update(values)


def _distances(sheet: pd.DataFrame | None) -> dict[str, float]:
    """distances.csv: the km that replace the great-circle distance of a pair."""
    dist = pair_table(sheet, "distances")
    if dist.empty:
        return {}
    if "km" not in dist.columns:
        raise ValueError("distances: missing column 'km'")
    km = number_column(dist, "km", "child_id", required=True)
    keys = dist["child_id"] + SEP + dist["placement_id"]
    return dict(zip(keys.tolist(), km.tolist(), strict=True))


def _adjoining(sheet: pd.DataFrame | None) -> frozenset[str] | None:
    """adjoining.csv as pairs of areas in both orders; None when the file is absent."""
    if sheet is None:
        return None
    a, b = sheet["authority"].map(area), sheet["neighbour"].map(area)
    return frozenset((a + SEP + b).tolist() + (b + SEP + a).tolist())


def load_instance(path: str | Path, policy_file: str | Path | None = None,
                  ofsted: str | Path | None = None) -> SpecInstance:
    """A folder of CSV files plus policy.toml, or one .xlsx workbook with the same sheets.

    `policy_file` is laid over the instance's policy, key by key (as `solve --policy`).
    """
    path = Path(path)
    sheets, raw = _read_sheets(path)
    if policy_file is not None:
        _overlay_policy(raw, policy_file)
    policy = policy_from_mapping(raw)
    if sheets["children"] is None or sheets["placements"] is None:
        raise ValueError(f"instance {path}: children and placements are required")
    children = prepare_children(sheets["children"])
    placements = prepare_placements(sheets["placements"])
    if ofsted is not None:  # Ofsted's rating wins for every urn its list holds
        found = placements["urn"].map(ofsted_list(ofsted))
        placements["ofsted_rating"] = found.where(found.notna(), placements["ofsted_rating"])
    exc = pair_table(sheets["exclusions"], "exclusions")
    exclusions = frozenset((exc["child_id"] + SEP + exc["placement_id"]).tolist())
    return SpecInstance(children, placements, exclusions, _distances(sheets["distances"]),
                        policy, _adjoining(sheets["adjoining"]))
