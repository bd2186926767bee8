"""`placement match --time-limit` is a promise too: the command ends by the limit plus its
grace with its answer, or, when the ranking or the printing is not done by then, with an
honest partial answer marked incomplete (exit 4); in time, the answer is unchanged."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from optimiser.deadline import grace
from optimiser.generate import generate
from optimiser.match import Matcher
from optimiser.match_stopped import EXIT_INCOMPLETE
from optimiser.reader import load_instance

ROOT = Path(__file__).resolve().parent.parent
ENV = dict(os.environ, PYTHONPATH=str(ROOT))
DEMO = str(ROOT / "instances" / "demo")
CHILD = "C00001"

# `placement match ...` with one stage made to outlast any limit: the ranking ("rank")
# or the formatting of the answer ("print")
SLOW = textwrap.dedent("""
    import sys, time
    import optimiser.match as m
    stage, sys.argv = sys.argv[1], ["placement", *sys.argv[2:]]
    def never(*args, **kwargs):
        time.sleep(600)
    if stage == "rank":
        m.Matcher.rank = never
    else:
        m.MatchResult.to_dict = never
        m.MatchResult.text = never
    from optimiser.cli import main
    sys.exit(main())
""")


def python(*args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    t = time.perf_counter()
    done = subprocess.run([sys.executable, *args], cwd=ROOT, env=ENV, capture_output=True,
                          text=True, timeout=300)
    return time.perf_counter() - t, done


def match(*args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    return python("-m", "optimiser.cli", "match", *args)


def promised(limit: float) -> float:
    """The promise, from the moment the guard is up: starting the interpreter and
    importing the command line can alone outlast a tiny limit on a busy machine."""
    wall, done = python("-c", "import optimiser.cli, optimiser.match_stopped")
    assert done.returncode == 0, done.stderr
    return max(limit, wall) + grace(limit) + 0.5  # the exit itself


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A register of 20,000 children and 15,000 placements."""
    folder = tmp_path_factory.mktemp("match_big") / "i"
    generate(folder, children=20_000, placements=15_000, seed=5)
    return folder


def test_a_tiny_limit_on_a_large_register_is_kept(big: Path) -> None:
    limit = 0.05
    wall, done = match(str(big), "--child", CHILD, "--json", "--time-limit", str(limit))
    assert wall <= promised(limit), f"{wall:.1f}s on a {limit}s limit"
    answer = json.loads(done.stdout)
    if done.returncode == EXIT_INCOMPLETE:  # as on any but an idle machine
        assert answer["complete"] is False
        assert f"time limit ({limit:g} s)" in answer["stopped"]
        assert "not complete" in done.stderr
    else:  # the whole answer came in time
        assert done.returncode == 0, done.stderr
        assert answer["referral"]["child_ids"][0] == CHILD and answer["ruled_out"]


# long enough for the start-up and the demo's reading on a busy machine
STAGE_LIMIT = 4.0


def test_a_ranking_not_done_in_time_says_so() -> None:
    limit = STAGE_LIMIT
    wall, done = python("-c", SLOW, "rank", "match", DEMO, "--child", CHILD, "--json",
                        "--time-limit", str(limit))
    assert done.returncode == EXIT_INCOMPLETE, done.stderr
    assert wall <= promised(limit), f"{wall:.1f}s on a {limit}s limit"
    answer = json.loads(done.stdout)
    assert answer["complete"] is False
    assert answer["stopped"] == ("the time limit (4 s) ran out while the referral was "
                                 "being ranked")
    assert answer["referral"]["child_ids"] == [CHILD]
    assert answer["placements"] == load_instance(DEMO).n_placements
    assert (answer["ranked"], answer["ranked_total"]) == ([], None)  # nothing guessed


def test_an_answer_not_written_in_time_gives_the_ranking_made() -> None:
    limit = STAGE_LIMIT
    wall, done = python("-c", SLOW, "print", "match", DEMO, "--child", CHILD, "--top", "4",
                        "--time-limit", str(limit))
    assert done.returncode == EXIT_INCOMPLETE, done.stderr
    assert wall <= promised(limit), f"{wall:.1f}s on a {limit}s limit"
    lines = done.stdout.splitlines()
    assert lines[0].startswith("INCOMPLETE: the time limit (4 s) ran out after the ranking")
    whole = Matcher(load_instance(DEMO)).rank(CHILD, top=4)
    assert f"{whole.ranked_total:,} placement(s) can take the referral" in done.stdout
    shown = [m.group(1) for line in lines if (m := re.match(r"\s+\d+\. (\S+)", line))]
    assert shown == [r.placement_id for r in whole.ranked]


@pytest.mark.parametrize("form", [["--json"], []])
def test_in_time_the_answer_is_the_same(form: list[str]) -> None:
    _, free = match(DEMO, "--child", CHILD, "--top", "5", *form)
    _, timed = match(DEMO, "--child", CHILD, "--top", "5", "--time-limit", "120", *form)
    assert free.returncode == timed.returncode == 0, free.stderr + timed.stderr
    if form:  # the same answer but for the seconds the ranking took
        one, two = json.loads(free.stdout), json.loads(timed.stdout)
        assert one.pop("seconds") >= 0 and two.pop("seconds") >= 0
        assert one == two and "complete" not in two
    else:  # the officer's text, to the byte: what the module itself says
        assert timed.stdout == free.stdout
        whole = Matcher(load_instance(DEMO)).rank(CHILD, top=5)
        assert timed.stdout == whole.text() + "\n"
