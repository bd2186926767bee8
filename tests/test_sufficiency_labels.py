"""Sufficiency shows authorities as first written (E10000018), never as the lower-case key
the engine matches on, in every table and document people read."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pandas as pd
import pytest

from optimiser.reader import load_instance
from optimiser.sufficiency.areas import Districts, child_areas, placement_areas
from optimiser.sufficiency.cli import add_parser

TINY = Path(__file__).resolve().parents[1] / "instances" / "tiny"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tiny, with some later rows of children.csv writing their codes in lower case."""
    d = tmp_path_factory.mktemp("labels") / "inst"
    shutil.copytree(TINY, d)
    path = d / "children.csv"
    ch = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert (ch["authority"] == ch["authority"].str.upper()).all()
    ch.loc[len(ch) // 2:, "authority"] = ch.loc[len(ch) // 2:, "authority"].str.lower()
    ch.to_csv(path, index=False)
    return d


def labels(folder: Path) -> set[str]:
    return set(pd.read_csv(TINY / "children.csv", dtype=str)["authority"]) | set(
        pd.read_csv(TINY / "placements.csv", dtype=str)["authority"])


def test_areas_are_the_labels(folder: Path) -> None:
    inst = load_instance(folder)
    want = labels(folder)
    none = Districts(directory=folder)  # no public data here: districts are grid cells
    assert set(child_areas(inst, none)) <= want
    assert set(placement_areas(inst, none)) <= want
    assert set(inst.authorities) & want == set()  # the keys differ: the test can fail


def test_outputs_show_the_labels(folder: Path) -> None:
    out = folder.parent / "out"
    ap = argparse.ArgumentParser(prog="placement")
    add_parser(ap.add_subparsers(dest="command", required=True))
    args = ap.parse_args(["sufficiency", str(folder), "--out", str(out), "--recommendations",
                          "2", "--budget", "1", "--tries", "1", "--time-limit", "20",
                          "--workers", "1", "--quiet"])
    assert int(args.func(args)) == 0
    want = labels(folder)
    lower = {w.lower() for w in want}
    recruit = pd.read_csv(out / "recruit.csv", dtype=str)
    assert len(recruit) and set(recruit["authority"]) <= want
    beds = pd.read_csv(out / "bed_values.csv", dtype=str)
    assert set(beds["area"]) <= want
    breakdown = pd.read_csv(out / "breakdown.csv", dtype=str)
    areas = set(breakdown.loc[breakdown["dimension"] == "area", "value"])
    assert areas and areas <= want
    page = (out / "statement.html").read_text()
    assert any(w in page for w in want)
    assert not any(w in page for w in lower)
