"""The benchmark harness (`placement bench`): smoke config, resume, failures as rows.

Every run is a real child process (a second or so each), so these tests keep to the tiny
instance, one GAP problem (when shared/data is there) and runs that fail fast.
"""

from __future__ import annotations

import csv
import importlib.util
import sys
from pathlib import Path

import pytest

from optimiser.cli import main
from optimiser.research import bench
from optimiser.research.gap_instance import default_data_dir

ROOT = Path(__file__).resolve().parent.parent
SMOKE = ROOT / "benchmarks" / "configs" / "smoke.toml"
REAL_FIND_SPEC = importlib.util.find_spec
HAS_NUMBA = REAL_FIND_SPEC("numba") is not None
HAS_GAP = HAS_NUMBA and (d := default_data_dir()) is not None \
    and (d / "gap" / "orlib" / "gap1.txt").is_file()


def rows_of(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    tmp = tmp_path_factory.mktemp("bench")
    out, work = tmp / "smoke.csv", tmp / "work"
    assert main(["bench", str(SMOKE), "--out", str(out), "--work", str(work)]) == 0
    return out, work, out.read_text()


def test_smoke_rows(smoke: tuple[Path, Path, str]) -> None:
    out, _, _ = smoke
    rows = rows_of(out)
    assert [r for r in rows if r["status"] in ("error", "killed")] == []
    tiny = [r for r in rows if r["family"] == "tiny"]
    assert sorted(r["backend"] for r in tiny) == ["cpsat", "highs"]
    for r in tiny:
        assert r["instance"] == "tiny" and r["size"] == "12" and r["resources"] == "10"
        assert r["status"] == "optimal" and r["check"] == "ok"
        assert float(r["gap_to_bound"]) <= 1e-9
        assert float(r["peak_mib"]) > 20  # a Python process with numpy loaded, at least
        assert float(r["load_seconds"]) > 0 and float(r["candidates_seconds"]) >= 0
        assert int(r["pairs_kept"]) > 0 and int(r["placed"]) + int(r["unplaced"]) == 12
        assert float(r["wall_seconds"]) >= float(r["seconds"])
    # two backends, one formulation: the same optimum
    assert float(tiny[0]["objective"]) == pytest.approx(float(tiny[1]["objective"]),
                                                        rel=1e-9)
    gap = [r for r in rows if r["family"] == "gap-smoke"]
    if HAS_GAP:
        assert len(gap) == 2
        for r in gap:
            assert r["instance"] == "gap1-p1-min" and r["best_known"] == "261"
            assert r["status"] == "optimal" and float(r["objective"]) == 261
            assert float(r["gap_to_best_known"]) == 0
    else:
        assert gap == []


def test_resume_adds_nothing_and_refuses_without_flag(smoke: tuple[Path, Path, str]) -> None:
    out, work, text = smoke
    assert main(["bench", str(SMOKE), "--out", str(out), "--work", str(work),
                 "--resume"]) == 0
    assert out.read_text() == text
    # without --resume an existing CSV is left alone, exit 2
    assert main(["bench", str(SMOKE), "--out", str(out), "--work", str(work)]) == 2
    assert out.read_text() == text


def test_resume_runs_only_the_missing_row(smoke: tuple[Path, Path, str],
                                          tmp_path: Path) -> None:
    out, work, text = smoke
    part = tmp_path / "part.csv"
    lines = text.splitlines(keepends=True)
    dropped = next(i for i, ln in enumerate(lines) if ",highs," in ln and ln.startswith("tiny"))
    part.write_text("".join(lines[:dropped] + lines[dropped + 1:]))
    assert main(["bench", str(SMOKE), "--out", str(part), "--work", str(work),
                 "--resume", "--family", "tiny"]) == 0
    rows = rows_of(part)
    assert len(rows) == len(lines) - 1
    assert (rows[-1]["instance"], rows[-1]["backend"]) == ("tiny", "highs")
    assert rows[-1]["status"] == "optimal"


def test_summary_from_csv(smoke: tuple[Path, Path, str],
                          capsys: pytest.CaptureFixture[str]) -> None:
    out, work, text = smoke
    capsys.readouterr()
    assert main(["bench", str(SMOKE), "--out", str(out), "--summary", "--rows"]) == 0
    printed, _, runs = capsys.readouterr().out.partition("\nruns of ")
    table = [ln for ln in printed.splitlines() if ln.startswith("| ")]
    run_lines = [ln for ln in runs.splitlines() if ln.startswith("| ")]
    assert len(run_lines) == 1 + len(rows_of(out))  # header + one line per run
    assert "| tiny | 12 | 10 | cpsat | 2 | optimal |" in runs
    assert table[0].startswith("| family | backend | time_limit | runs")
    body = {(c[0], c[1]): c for ln in table[1:]
            if (c := [x.strip() for x in ln.strip("|").split("|")])}
    assert body[("tiny", "cpsat")][3] == "1" and body[("tiny", "highs")][5] == "1"
    assert (("gap-smoke", "cpsat") in body) == HAS_GAP
    assert out.read_text() == text  # --summary runs nothing


def write_config(path: Path, body: str) -> Path:
    path.write_text(body)
    return path


def test_crash_and_timeout_are_rows(tmp_path: Path) -> None:
    bad = ROOT / "tests" / "malformed" / "age_19"
    cfg = write_config(tmp_path / "c.toml", f"""
[bench]
time_limits = [2]
workers = 1

[[family]]
name = "broken"
instances = ["{bad}"]
backends = ["cpsat"]

[[family]]
name = "slow"
instances = ["{ROOT / 'instances' / 'tiny'}"]
backends = ["cpsat"]
hard_timeout = 0.3
""")
    out = tmp_path / "rows.csv"
    assert main(["bench", str(cfg), "--out", str(out), "--work", str(tmp_path / "w")]) == 0
    rows = {r["family"]: r for r in rows_of(out)}
    assert rows["broken"]["status"] == "error"
    assert "age" in rows["broken"]["note"] and rows["broken"]["objective"] == ""
    assert rows["slow"]["status"] == "killed"
    assert "hard timeout 0.3 s" in rows["slow"]["note"]


def test_config_errors_name_the_family(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_config(tmp_path / "c.toml", """
[[family]]
name = "fam1"
instances = ["instances/tiny"]
backends = ["cpsat", "gurobi"]
""")
    out = tmp_path / "rows.csv"
    assert main(["bench", str(cfg), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "c.toml" in err and "fam1" in err and "gurobi" in err
    assert not out.exists()
    with pytest.raises(bench.BenchConfigError, match="recipe 'nope'"):
        bench.load_config(write_config(tmp_path / "d.toml",
                                       '[[family]]\nname = "x"\nrecipes = ["nope"]\n'))


def test_gap_family_skipped_without_data(tmp_path: Path) -> None:
    cfg = bench.load_config(write_config(tmp_path / "c.toml", f"""
[[family]]
name = "g"
gap = ["orlib/gap1.txt"]
data = "{tmp_path / 'nowhere'}"
"""))
    (fam,) = cfg.families
    assert fam.instances == [] and "GAP data not found" in fam.skipped
    said: list[str] = []
    assert bench.run_config(cfg, tmp_path / "rows.csv", resume=False, say=said.append) == []
    assert any("skipping family 'g'" in s for s in said)


def test_gap_family_without_numba_says_how_to_install(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the research extra a GAP family is skipped, with the command that
    installs it; the placement families still run."""
    monkeypatch.setitem(sys.modules, "numba", None)  # as if not installed
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "numba" else REAL_FIND_SPEC(name, *a))
    cfg = bench.load_config(write_config(tmp_path / "c.toml", """
[[family]]
name = "g"
gap = ["orlib/gap1.txt"]
"""))
    (fam,) = cfg.families
    assert fam.instances == []
    assert "pip install 'placement-optimiser[research]'" in fam.skipped


def test_dispatch_table_has_every_engine_backend() -> None:
    from optimiser.pipeline.types import BACKENDS

    table = bench.placement_backends()
    assert {"auto", *BACKENDS} <= set(table)
    from optimiser.research.bench_backends import BENCH_BACKENDS

    assert set(BENCH_BACKENDS) <= set(table)


def test_generated_instance_made_once_and_reused(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "c.toml", """
[bench]
time_limits = [2]
workers = 1

[[family]]
name = "gen"
generate = [{children = 15, placements = 12, seed = 3}]
backends = ["highs"]
""")
    out, work = tmp_path / "rows.csv", tmp_path / "w"
    assert main(["bench", str(cfg), "--out", str(out), "--work", str(work)]) == 0
    folder = work / "instances" / "gen-15c-12p-s3"
    assert (folder / "children.csv").is_file()
    made = folder.stat().st_mtime_ns
    (row,) = rows_of(out)
    assert row["instance"] == "gen-15c-12p-s3" and row["size"] == "15"
    assert row["status"] == "optimal" and float(row["generate_seconds"]) > 0
    # a new key on the same instance: run, but the folder is not generated again
    cfg.write_text(cfg.read_text().replace('["highs"]', '["highs", "cpsat"]'))
    assert main(["bench", str(cfg), "--out", str(out), "--work", str(work), "--resume"]) == 0
    rows = rows_of(out)
    assert [r["backend"] for r in rows] == ["highs", "cpsat"]
    assert rows[1]["generate_seconds"] == "" and folder.stat().st_mtime_ns == made
    assert rows[0]["objective"] == rows[1]["objective"] or (
        abs(float(rows[0]["objective"]) - float(rows[1]["objective"])) < 1e-6)
    with pytest.raises(bench.BenchConfigError, match="second family"):
        bench.load_config(write_config(tmp_path / "d.toml", '[[family]]\nname = "x"\n'
                                       'instances = ["a"]\n[[family]]\nname = "x"\n'
                                       'instances = ["b"]\n'))
