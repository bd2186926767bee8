"""`placement region`: a calibrated region's instance through the command's own parser,
ready for `placement pool`; refused, with nothing written, for an unknown region or
without the public data."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optimiser import calibration as cal
from optimiser.generate import DATA_DIR_ENV, default_data_dir
from optimiser.pooling import pool
from optimiser.reader import load_instance
from optimiser.regions import dfe_children_in_care
from optimiser.regions_cli import add_parser
from optimiser.solver import SolveOptions

DATA = default_data_dir()
needs_data = pytest.mark.skipif(DATA is None, reason="public data (shared/data) not here")


def _run(*argv: str) -> int:
    ap = argparse.ArgumentParser(prog="placement")
    add_parser(ap.add_subparsers(dest="command", required=True))
    args = ap.parse_args(["region", *argv])
    return int(args.func(args))


@needs_data
def test_a_dfe_region_by_name_split_by_the_counts(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "nw"
    assert _run("North West", "--out", str(out), "--children", "400",
                "--placements", "300", "--seed", "3") == 0
    assert "written to" in capsys.readouterr().out
    inst = load_instance(out)
    codes = sorted(a.code for a in cal.AUTHORITIES if a.region == "North West")
    labels = sorted({inst.authority_label(int(c)) for c in inst.authority})
    assert labels == codes and inst.n_children == 400
    counts = dfe_children_in_care(DATA)
    kids = pd.Series([inst.authority_label(int(c)) for c in inst.authority]).value_counts()
    big, small = max(codes, key=counts.__getitem__), min(codes, key=counts.__getitem__)
    assert kids[big] > kids[small]  # in proportion to the DfE counts
    assert (out / "adjoining.csv").is_file() and len(pd.read_csv(out / "adjoining.csv")) > 0


@needs_data
def test_codes_and_shortage_give_a_region_pool_accepts(tmp_path: Path) -> None:
    out = tmp_path / "r"
    (out).mkdir()
    (out / "distances.csv").write_text("child_id,placement_id,km\n")  # an old instance's
    (out / "notes.txt").write_text("mine\n")
    assert _run("E08000001", "e08000002", "--out", str(out), "--children", "24",
                "--placements-per-child", "0.5", "--seed", "5") == 0
    assert not (out / "distances.csv").exists() and (out / "notes.txt").is_file()
    assert len(pd.read_csv(out / "placements.csv")) == 12
    inst = load_instance(out)
    res = pool(inst, SolveOptions(time_limit=20, workers=1))
    assert [res.split.label(1 << i) for i in range(2)] == ["E08000001", "E08000002"]
    assert res.shares.pooled <= res.shares.alone.sum() + 1e-6
    assert np.isclose(res.shares.allocated.sum(), res.shares.pooled)


def test_an_unknown_region_is_refused_and_nothing_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))  # a folder: the data check passes
    assert _run("Atlantis", "--out", str(tmp_path / "x"), "--children", "50") == 2
    err = capsys.readouterr().err
    assert "unknown region" in err and "North West" in err
    assert not (tmp_path / "x").exists()


def test_without_the_public_data_it_refuses(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "absent"))
    assert _run("North West", "--out", str(tmp_path / "x"), "--children", "50") == 2
    err = capsys.readouterr().err
    assert DATA_DIR_ENV in err and str(tmp_path / "absent") in err
    assert not (tmp_path / "x").exists()
    assert _run("North West", "--out", str(tmp_path / "x"), "--data-dir",
                str(tmp_path / "absent")) == 2
    assert "--data-dir" in capsys.readouterr().err


def test_sizes_too_small_for_the_members_are_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    assert _run("Greater Manchester", "--out", str(tmp_path / "x"), "--children", "5") == 2
    assert "10 authorities" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
