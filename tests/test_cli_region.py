"""`placement region` through placement's own parser."""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from optimiser.cli import build_parser, main

DATA = Path(os.environ.get("PLACEMENT_DATA_DIR",
                           Path(__file__).resolve().parents[2] / "shared" / "data"))


def test_region_is_a_command_of_placement() -> None:
    args = build_parser().parse_args(["region", "North West", "--out", "x"])
    assert args.func is not None and args.region == ["North West"]


def test_an_unknown_region_is_refused_and_nothing_written(tmp_path: Path) -> None:
    code = main(["region", "Nowhere", "--out", str(tmp_path / "r"), "--data-dir", str(DATA)])
    assert code != 0
    assert not (tmp_path / "r").exists()


@pytest.mark.skipif(not (DATA / "geography").is_dir(),
                    reason=f"public data not found at {DATA} (set PLACEMENT_DATA_DIR)")
def test_a_region_is_written_for_the_pool(tmp_path: Path) -> None:
    out = tmp_path / "gm"
    assert main(["region", "Greater Manchester", "--children", "200", "--out", str(out),
                 "--data-dir", str(DATA)]) == 0
    children = pd.read_csv(out / "children.csv", dtype=str)
    assert len(children) == 200
    assert children["authority"].nunique() == 10  # the ten Greater Manchester boroughs
