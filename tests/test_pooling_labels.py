"""Authorities in the pooling report as first written in the files (not guessed from
their shape): names keep their case, GSS codes stay in capitals."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from pooling_helpers import small_region

from optimiser.pooling import pool
from optimiser.pooling.report import write_report
from optimiser.reader import load_instance
from optimiser.solver import SolveOptions

OPTS = SolveOptions(time_limit=20, workers=1)
SPELLING = {"E08000001": ("Bolton", "BOLTON"), "E08000002": ("bury mbc", "Bury MBC")}


def _respell(folder: Path) -> None:
    for name, col, k in (("children", "authority", 0), ("placements", "authority", 1),
                         ("adjoining", "authority", 1), ("adjoining", "neighbour", 1)):
        path = folder / f"{name}.csv"
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        df[col] = [SPELLING[v][k] if v in SPELLING else v for v in df[col]]
        df.to_csv(path, index=False)


def test_report_names_authorities_as_first_written(tmp_path: Path) -> None:
    small_region(tmp_path / "r", 2, 12, children=20)
    _respell(tmp_path / "r")
    res = pool(load_instance(tmp_path / "r"), OPTS)
    assert res.split.labels == ("Bolton", "bury mbc")  # the children's file is read first
    assert res.split.label(res.split.grand) == "Bolton+bury mbc"
    write_report(res, tmp_path / "o")
    table = pd.read_csv(tmp_path / "o" / "authorities.csv")
    assert table["authority"].tolist() == ["Bolton", "bury mbc"]
    assert pd.read_csv(tmp_path / "o" / "lending.csv")["lender"].tolist() == [
        "Bolton", "bury mbc"]
    figures = json.loads((tmp_path / "o" / "pooling.json").read_text())
    assert figures["authorities"] == ["Bolton", "bury mbc"]
    asg = pd.read_csv(tmp_path / "o" / "assignments.csv", dtype=str)
    assert set(asg["authority"]) == {"Bolton", "bury mbc"}


def test_gss_codes_stay_in_capitals(tmp_path: Path) -> None:
    small_region(tmp_path / "r", 2, 13, children=20)
    res = pool(load_instance(tmp_path / "r"), OPTS)
    assert res.split.names == ("e08000001", "e08000002")  # the keys, matched case-blind
    assert res.split.labels == ("E08000001", "E08000002")
