"""Pooling on real solves: the pooled optimum never above the separate ones (with one
policy), the exact and sampled shares on the same coalitions, the report against the
independent checker, and the `placement pool` command through its own parser."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pooling_helpers import small_region

from optimiser import checker
from optimiser.instance import Policy, Weights
from optimiser.pooling import CoalitionCosts, pool, split_instance
from optimiser.pooling.cli import add_parser
from optimiser.pooling.coalition import solve_coalition
from optimiser.pooling.report import child_objective, write_report
from optimiser.pooling.shapley import shapley_exact, shapley_sampled
from optimiser.reader import load_instance
from optimiser.solver import SolveOptions

OPTS = SolveOptions(time_limit=30, workers=1)


@pytest.mark.parametrize("authorities,seed", [(2, 1), (3, 2), (4, 3), (3, 4)])
def test_pooled_optimum_never_above_the_sum_of_separate_ones(tmp_path: Path,
                                                             authorities: int,
                                                             seed: int) -> None:
    inst = small_region(tmp_path / "r", authorities, seed, children=15 * authorities)
    split = split_instance(inst)
    assert split.n_players == authorities
    alone = [solve_coalition(split, 1 << i, OPTS) for i in range(authorities)]
    pooled = solve_coalition(split, split.grand, OPTS)
    assert all(s.status == "optimal" for s in [*alone, pooled])
    # the raw solves, not the best-of-unions the report uses: this can fail
    assert pooled.objective <= sum(s.objective for s in alone) + 1e-6
    # the union of the separate plans is a plan of the region, costing their sum
    union = np.full(inst.n_children, -1)
    for i, s in enumerate(alone):
        union[split.child_owner == i] = s.assignment
    assert child_objective(inst, union).sum() == pytest.approx(
        sum(s.objective for s in alone), rel=1e-9)


def test_superadditivity_needs_one_unplaced_penalty(tmp_path: Path) -> None:
    """Authorities that each price an unplaced child low (here 200 a week) leave children
    unplaced alone; on the region's common scale (100,000) the pooled optimum places them
    and costs more than the sum of those separate figures: only one penalty compares."""
    small_region(tmp_path / "r", 3, 5, children=45)
    cheap = load_instance(tmp_path / "r", policy=Policy(weights=Weights(unplaced=200.0)))
    common = load_instance(tmp_path / "r")
    alone_cheap = sum(solve_coalition(split_instance(cheap), 1 << i, OPTS).objective
                      for i in range(3))
    pooled = solve_coalition(split_instance(common), 7, OPTS).objective
    assert pooled > alone_cheap


def test_exact_and_sampled_shares_agree_on_one_cache(tmp_path: Path) -> None:
    inst = small_region(tmp_path / "r", 3, 6, children=45)
    costs = CoalitionCosts(split_instance(inst), OPTS)
    exact = shapley_exact(3, costs.cost, costs.ensure)
    solved = len(costs.solved)
    sampled = shapley_sampled(3, costs.cost, samples=60, seed=2, prefetch=costs.ensure)
    assert len(costs.solved) == solved == 7  # the sampled orders reuse every solve
    assert exact.share.sum() == pytest.approx(exact.gain)
    tol = max(4 * float(sampled.stderr.max()), 1e-6 * abs(exact.gain))
    np.testing.assert_allclose(sampled.share, exact.share, atol=tol)


def test_report_figures_equal_the_checkers(tmp_path: Path) -> None:
    inst = small_region(tmp_path / "r", 3, 7, children=45)
    result = pool(inst, OPTS)
    out = write_report(result, tmp_path / "out", instance="r")
    rep = checker.check(tmp_path / "r", out)
    assert rep.ok, (rep.violations, rep.summary_mismatches)
    table = pd.read_csv(out / "authorities.csv")
    assert table["pooled_objective"].sum() == pytest.approx(rep.objective, rel=1e-9)
    assert table["pooled_unplaced"].sum() == rep.unplaced
    assert table["pooled_weekly_cost"].sum() == pytest.approx(rep.total_weekly_cost)
    assert result.shares.pooled == pytest.approx(rep.objective, rel=1e-9)
    # the settlement balances, and the fair costs add up to the pooled optimum
    assert table["pay_or_receive"].sum() == pytest.approx(0.0, abs=1e-6 * rep.objective)
    assert table["fair_cost"].sum() == pytest.approx(rep.objective, rel=1e-9)
    lend = pd.read_csv(out / "lending.csv").set_index("lender")
    off_diagonal = lend.to_numpy().sum() - np.trace(lend.to_numpy())
    assert table["beds_lent"].sum() == table["beds_borrowed"].sum() == off_diagonal
    summary = json.loads((out / "pooling.json").read_text())
    assert summary["gain"] == pytest.approx(table["alone_objective"].sum() - rep.objective)
    assert summary["stand_alone_check"]["no_authority_worse_off"]
    assert (out / "report.md").read_text().count("\n| E0") == 3


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="placement")
    add_parser(ap.add_subparsers(dest="command", required=True))
    return ap


def test_pool_command_writes_the_report(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    small_region(tmp_path / "r", 2, 8, children=30)
    args = _parser().parse_args(["pool", str(tmp_path / "r"), "--out", str(tmp_path / "o"),
                                 "--workers", "0", "--time-limit", "20", "-q"])
    assert args.func(args) == 0
    assert "gain" in capsys.readouterr().out
    for name in ("report.md", "authorities.csv", "lending.csv", "coalitions.csv",
                 "pooling.json", "assignments.csv", "summary.json"):
        assert (tmp_path / "o" / name).is_file(), name
    assert len(pd.read_csv(tmp_path / "o" / "coalitions.csv")) == 3


def test_pool_command_on_dask_matches_in_process(tmp_path: Path) -> None:
    small_region(tmp_path / "r", 2, 9, children=30)
    for where, extra in (("local", ["--workers", "0"]), ("dask", ["--workers", "1"])):
        args = _parser().parse_args(["pool", str(tmp_path / "r"), "--out",
                                     str(tmp_path / where), "-q", *extra])
        assert args.func(args) == 0
    a = json.loads((tmp_path / "local" / "pooling.json").read_text())
    b = json.loads((tmp_path / "dask" / "pooling.json").read_text())
    assert b["mapper"].startswith("Dask") and not a["mapper"].startswith("Dask")
    assert a["pooled"] == pytest.approx(b["pooled"]) and a["gain"] == pytest.approx(b["gain"])


def test_pool_command_refuses_children_without_authority(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    small_region(tmp_path / "r", 2, 10, children=20)
    ch = pd.read_csv(tmp_path / "r" / "children.csv", dtype=str, keep_default_na=False)
    ch.loc[0, "authority"] = ""
    ch.to_csv(tmp_path / "r" / "children.csv", index=False)
    args = _parser().parse_args(["pool", str(tmp_path / "r"), "--out", str(tmp_path / "o"),
                                 "--workers", "0", "-q"])
    assert args.func(args) == 2
    assert "without an authority" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_solve_pool_writes_a_checkable_solve_output(tmp_path: Path) -> None:
    """What `placement solve INSTANCE --out DIR --pool` calls, with the solve's arguments."""
    from optimiser.pooling.cli import solve_pool

    small_region(tmp_path / "r", 2, 11, children=20)
    policy = tmp_path / "policy.toml"
    policy.write_text("[weights]\nunplaced = 50000.0\n")
    args = argparse.Namespace(instance=str(tmp_path / "r"), out=str(tmp_path / "o"),
                              time_limit=20.0, seed=0, quiet=True, workers=0,
                              policy=str(policy), ofsted=None)
    assert solve_pool(args) == 0
    rep = checker.check(tmp_path / "r", tmp_path / "o", policy_file=policy)
    assert rep.ok, (rep.violations, rep.summary_mismatches)
    figures = json.loads((tmp_path / "o" / "pooling.json").read_text())
    assert figures["shapley"]["exact"] and figures["pooled"] == pytest.approx(rep.objective)
    assert rep.terms["unplaced"] == pytest.approx(50000.0 * rep.unplaced)  # the policy held
