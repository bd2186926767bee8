"""Variants of a generated instance, written over its folder: the re-allocation columns,
format 1.1's columns (authorities, reserved kinship carers, URNs, adjoining.csv), and a
synthetic SSDA903 return of its children (for the import's round-trip tests). Synthetic
ids and dates only."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from optimiser.categories import HOLD_REASONS
from optimiser.safe_text import read_text_table, safe_frame, safe_text_frame


def add_reallocation_columns(folder: Path, seed: int, day: dt.date, *,
                             pinned_share: float = 0.25, hold_share: float = 0.03,
                             later_share: float = 0.02, placed_days: int = 5 * 365,
                             later_days: int = 60) -> Path:
    """Add the optional re-allocation columns to a generated instance, drawn with `seed`:
    `pinned` (a share of placed children, with their whole sibling group),
    `placed_since` (up to `placed_days` before `day`), `on_hold_reason` and
    `available_from` (up to `later_days` after `day`) for shares of placements with
    vacancies. Used by the re-allocation tests and benchmark."""
    rng = np.random.default_rng(seed)
    ch = read_text_table(folder / "children.csv")
    pl = read_text_table(folder / "placements.csv")
    placed = ch["current_placement"] != ""
    pin = placed & (rng.random(len(ch)) < pinned_share)
    groups = set(ch.loc[pin & (ch["sibling_group"] != ""), "sibling_group"])
    pin |= placed & ch["sibling_group"].isin(groups) & (ch["sibling_group"] != "")
    ch["pinned"] = np.where(pin, "true", "")
    days = rng.integers(7, placed_days, len(ch))
    ch["placed_since"] = [(day - dt.timedelta(days=int(d))).isoformat() if p else ""
                          for d, p in zip(days, placed, strict=True)]
    vac = pl["vacancies"].astype(int) > 0
    r = rng.random(len(pl))
    reasons = np.array(HOLD_REASONS)
    pl["on_hold_reason"] = np.where(vac & (r < hold_share),
                                    reasons[rng.integers(0, len(reasons), len(pl))], "")
    later = vac & (r >= hold_share) & (r < hold_share + later_share)
    pl["available_from"] = [(day + dt.timedelta(days=int(d))).isoformat() if x else ""
                            for d, x in zip(rng.integers(1, later_days, len(pl)), later,
                                            strict=True)]
    safe_text_frame(ch).to_csv(folder / "children.csv", index=False)
    safe_text_frame(pl).to_csv(folder / "placements.csv", index=False)
    return folder


# --------------------------------------------------------------------------- 903 returns

# The 903's PLACE code written for each placement type (the importer reads them back)
PLACE_CODE = {"kinship_foster": "U1", "inhouse_foster": "U4", "ifa_foster": "U4",
              "inhouse_residential": "K2", "external_residential": "K2", "secure": "K1",
              "supported_accommodation": "H5", "parent_and_child": "R3"}
WAITING_PLACE = "Z1"  # "other placement": a child waiting has no register placement


def write_903_return(folder: str | Path, out: str | Path, as_at: dt.date, *, seed: int = 0,
                     authority: str = "E00000001", left_care: int = 2) -> Path:
    """A synthetic SSDA903 return (header.csv, episodes.csv) of an instance's children on
    `as_at`: dates of birth that give their ages, SEX 1/2, home and placement postcode
    districts nearest their coordinates, the register's URN where it has one, an earlier
    closed episode for some, and `left_care` children whose only episode ended before."""
    from optimiser.import903 import data_dir, read_outcodes

    rng = np.random.default_rng(seed)
    ch = read_text_table(Path(folder) / "children.csv")
    pl = read_text_table(Path(folder) / "placements.csv")
    pl = pl.set_index("placement_id")
    codes = read_outcodes(data_dir())
    names = list(codes)
    tree = cKDTree(np.array([codes[n] for n in names]))

    def district(lat: str, lon: str) -> str:
        return names[int(tree.query([float(lat), float(lon)])[1])]

    def dmy(day: dt.date) -> str:
        return day.strftime("%d/%m/%Y")

    header, episodes = [], []
    for rec in ch.to_dict("records"):
        if rec["gender"] not in ("F", "M"):
            raise ValueError(f"child {rec['child_id']}: the 903 has no code for gender "
                             f"{rec['gender']!r}")
        birthday = as_at.replace(year=as_at.year - int(rec["age"]))
        dob = birthday - dt.timedelta(days=int(rng.integers(0, 360)))
        header.append({"CHILD": rec["child_id"], "SEX": "1" if rec["gender"] == "M" else "2",
                       "DOB": dmy(dob), "LA": authority})
        start = as_at - dt.timedelta(days=int(rng.integers(1, 700)))
        if rng.random() < 0.3:  # an earlier episode, closed when this one began
            episodes.append({"CHILD": rec["child_id"],
                             "DECOM": dmy(start - dt.timedelta(days=200)), "DEC": dmy(start),
                             "PLACE": "U4", "HOME_POST": "", "PL_POST": "", "URN": ""})
        cur = rec.get("current_placement", "")
        row = pl.loc[cur] if cur else None
        episodes.append({
            "CHILD": rec["child_id"], "DECOM": dmy(max(start, dob)), "DEC": "",
            "PLACE": PLACE_CODE[str(row["type"])] if row is not None else WAITING_PLACE,
            "HOME_POST": f"{district(rec['home_lat'], rec['home_lon'])} 1AA",
            "PL_POST": f"{district(row['lat'], row['lon'])} 2BB" if row is not None else "",
            "URN": str(row.get("urn", "")) if row is not None else ""})
    for k in range(left_care):
        cid = f"L{k + 1:05d}"
        header.append({"CHILD": cid, "SEX": "2", "DOB": dmy(as_at.replace(year=as_at.year - 9)),
                       "LA": authority})
        episodes.append({"CHILD": cid, "DECOM": dmy(as_at - dt.timedelta(days=400)),
                         "DEC": dmy(as_at - dt.timedelta(days=30)), "PLACE": "U4",
                         "HOME_POST": "", "PL_POST": "", "URN": ""})
    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    safe_frame(pd.DataFrame(header)).to_csv(target / "header.csv", index=False)
    safe_frame(pd.DataFrame(episodes)).to_csv(target / "episodes.csv", index=False)
    return target


# --------------------------------------------------------------------------- format 1.1


def add_format11_columns(folder: str | Path, seed: int, *, authority: str = "E00000001",
                         neighbours: tuple[str, ...] = ("E00000002", "E00000003"),
                         far: tuple[str, ...] = ("E00000009",), out_share: float = 0.3,
                         ) -> Path:
    """Add the 1.1 columns and file to a generated instance, drawn with `seed`: every child
    of `authority`; in-house and kinship placements in it, others in area or out (a
    neighbour or further away, `out_share` of them); each kinship carer reserved for the
    family it lives with, else for one waiting child or sibling group; a URN for every
    home and secure unit; `adjoining.csv` naming the neighbours."""
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    ch = read_text_table(folder / "children.csv")
    pl = read_text_table(folder / "placements.csv")
    ch["authority"] = authority
    own = pl["type"].isin(["inhouse_foster", "kinship_foster", "inhouse_residential"])
    others = np.array([*neighbours, *far], dtype=object)
    away = ~own & (rng.random(len(pl)) < out_share)
    pl["authority"] = np.where(away, others[rng.integers(0, len(others), len(pl))], authority)
    homes = pl["type"].isin(["inhouse_residential", "external_residential", "secure"])
    pl["urn"] = [f"SC{700000 + j}" if h else "" for j, h in enumerate(homes)]
    family: dict[str, list[str]] = {}  # the groups or children living there
    for rec in ch.to_dict("records"):
        names = family.setdefault(rec["current_placement"], [])
        name = rec["sibling_group"] or rec["child_id"]
        if rec["current_placement"] and name not in names:
            names.append(name)
    waiting = [g or c for c, g, p in zip(ch["child_id"], ch["sibling_group"],
                                         ch["current_placement"], strict=True) if not p]
    order = rng.permutation(len(waiting)).tolist()
    reserved = []
    for pid, kind in zip(pl["placement_id"], pl["type"], strict=True):
        name = ";".join(family.get(pid, []))
        if kind == "kinship_foster" and not name and order:
            name = waiting[order.pop()]
        reserved.append(name if kind == "kinship_foster" else "")
    pl["reserved_for"] = reserved
    safe_text_frame(ch).to_csv(folder / "children.csv", index=False)
    safe_text_frame(pl).to_csv(folder / "placements.csv", index=False)
    pd.DataFrame({"authority": [authority] * len(neighbours), "neighbour": list(neighbours)}
                 ).pipe(safe_frame).to_csv(folder / "adjoining.csv", index=False)
    return folder
