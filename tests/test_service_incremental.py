"""The warm matcher follows the register's change log: after accepts, approvals, holds and
bed edits its answers equal a Matcher built afresh from the rows, and `placement match
--json` on the register exported, in every worker process, without rebuilding."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

for _dep in ("fastapi", "uvicorn", "sqlalchemy", "alembic", "argon2", "multipart", "httpx"):
    pytest.importorskip(_dep)

from service_helpers import (  # noqa: E402
    DATABASES,
    Setup,
    database_url,
    demo_files,
    make_setup,
    open_referral,
)

from optimiser.cli import build_parser, cmd_match  # noqa: E402
from optimiser.match import Matcher  # noqa: E402
from optimiser.service.db import changes_between, register_version  # noqa: E402
from optimiser.service.matching import MatcherCache, matches_json  # noqa: E402
from optimiser.service.register import build_instance, export, import_register  # noqa: E402

on_both = pytest.mark.parametrize("s", DATABASES, indirect=True)
LOOKED_AT = ("C00001", "C00002", "C00005", "C00010", "C00017", "C00040")


@pytest.fixture
def s(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Setup]:
    kind = getattr(request, "param", "sqlite")
    setup = make_setup(database_url(kind, tmp_path), seeded=True)
    yield setup
    setup.client.close()
    setup.engine.dispose()


def cache_of(s: Setup) -> MatcherCache:
    cache: MatcherCache = s.client.app.state.service.matchers  # type: ignore[attr-defined]
    return cache


def without_time(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k != "seconds"}


def cli_match(folder: Path, child: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    args = build_parser().parse_args(["match", str(folder), "--child", child, "--json"])
    capsys.readouterr()
    assert cmd_match(args) == 0
    return dict(json.loads(capsys.readouterr().out))


def assert_same_as_fresh(s: Setup, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                         children: tuple[str, ...] = LOOKED_AT) -> None:
    """The warm answers equal a fresh Matcher's and the command's on the exported register."""
    warm = cache_of(s).get()
    folder = tmp_path / f"export-{warm.version}"
    with s.engine.connect() as conn:
        assert register_version(conn) == warm.version
        fresh = Matcher(build_instance(conn))
        export(conn, folder)
    for child in children:
        got = without_time(warm.answer(child, None))
        assert got == without_time(matches_json(fresh.rank(child))), child
        cli = without_time(cli_match(folder, child, capsys))
        assert {k: v for k, v in got.items() if k not in ("ranked", "near_misses")} == {
            k: v for k, v in cli.items() if k not in ("ranked", "near_misses")}, child
        for key in ("ranked", "near_misses"):  # the service adds who approves
            assert [{k: v for k, v in r.items() if k != "approval"} for r in got[key]] == [
                {k: v for k, v in r.items() if k != "approval"} for r in cli[key]], child


def accept_best(s: Setup, child: str) -> str:
    rid = open_referral(s, child)
    best = s.get(f"/api/v1/referrals/{rid}/matches", "officer").json()["ranked"][0]
    r = s.post(f"/api/v1/referrals/{rid}/decision", "officer",
               json={"placement_id": best["placement_id"], "decision": "accept"})
    assert r.status_code in (200, 202), r.text
    if r.status_code == 202:  # reg. 11: a manager approves
        aid = r.json()["approval_id"]
        assert s.post(f"/api/v1/approvals/{aid}", "manager",
                      json={"approve": True}).json()["status"] == "placed"
    return str(best["placement_id"])


def patch(s: Setup, pid: str, **values: Any) -> None:
    r = s.client.patch(f"/api/v1/placements/{pid}", headers=s.headers["manager"], json=values)
    assert r.status_code == 200, r.text


@on_both
def test_accepts_and_holds_follow_the_log_and_equal_a_fresh_build(
        s: Setup, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cache = cache_of(s)
    assert_same_as_fresh(s, tmp_path, capsys)
    built = cache.rebuilds
    first = accept_best(s, "C00001")
    accept_best(s, "C00002")
    assert_same_as_fresh(s, tmp_path, capsys)
    patch(s, first, on_hold_reason="Holiday")  # a known code, in any case
    patch(s, "P00002", vacancies=0)
    accept_best(s, "C00005")
    assert_same_as_fresh(s, tmp_path, capsys)
    patch(s, first, on_hold_reason="")
    patch(s, "P00002", vacancies=3)
    accept_best(s, "C00001")  # a placed child moves on: the bed left behind is free again
    assert_same_as_fresh(s, tmp_path, capsys)
    assert cache.rebuilds == built  # every step followed the log


def test_a_worker_behind_catches_up_on_every_change_at_once(
        s: Setup, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A second worker (its own cache) warmed before the changes applies them together."""
    other = MatcherCache(s.engine)
    before = other.get()
    accept_best(s, "C00010")
    patch(s, "P00004", on_hold_reason="illness")
    accept_best(s, "C00017")
    after = other.get()
    with s.engine.connect() as conn:
        assert after.version == register_version(conn) > before.version
    assert other.rebuilds == 1  # only its first warm-up
    with s.engine.connect() as conn:
        fresh = Matcher(build_instance(conn))
    for child in LOOKED_AT:
        assert without_time(after.answer(child, None)) == without_time(
            matches_json(fresh.rank(child)))
    assert_same_as_fresh(s, tmp_path, capsys)


def test_an_import_a_free_text_hold_and_a_gap_rebuild_from_the_rows(
        s: Setup, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cache = cache_of(s)
    cache.get()
    built = cache.rebuilds
    patch(s, "P00003", on_hold_reason="carer in hospital")  # only the reader reads free text
    assert_same_as_fresh(s, tmp_path, capsys)
    assert cache.rebuilds == built + 1
    import_register(s.engine, "admin", demo_files())
    assert_same_as_fresh(s, tmp_path, capsys)
    assert cache.rebuilds == built + 2
    with s.engine.connect() as conn:
        v = register_version(conn)
        assert changes_between(conn, v - 1, v) == [{"reset": True}]
        assert changes_between(conn, -5, v) is None  # versions before the log: a gap


def test_the_log_names_each_change_with_its_values_after(s: Setup) -> None:
    pid = accept_best(s, "C00040")
    with s.engine.connect() as conn:
        v = register_version(conn)
        (change,) = changes_between(conn, v - 1, v) or [None]
    assert change is not None
    assert change["children"] == {"C00040": pid}
    beds = s.get(f"/api/v1/placements/{pid}", "officer").json()["vacancies"]
    assert change["placements"] == {pid: [beds, ""]}


def test_a_decision_reads_the_answer_shown_or_the_engine_alike(s: Setup) -> None:
    """Where a placement stands (rank, score, near miss, rule) is the same whether it is
    read from the answer an officer was shown (`top` cut) or asked of the engine."""
    child = "C00003"
    fresh = cache_of(s).get()
    full = fresh.answer(child, None)
    picks = [r["placement_id"] for r in full["ranked"][:5]]
    picks += [n["placement_id"] for n in full["near_misses"][:3]]
    picks += [o["placement_id"] for o in full["ruled_out"][:3]] + ["NO-SUCH-PLACEMENT"]
    assert len(full["ranked"]) > 3 and full["near_misses"] and full["ruled_out"]
    engine_says = {p: MatcherCache(s.engine).get().standing(child, None, p) for p in picks}
    shown = MatcherCache(s.engine).get()
    shown.answer(child, None, top=3)  # the officer saw the first three
    assert shown.answers
    for p in picks:
        assert shown.standing(child, None, p) == engine_says[p], p
    kinds = [engine_says[p].kind for p in picks]
    assert kinds == ["ranked"] * 5 + ["near_miss"] * len(full["near_misses"][:3]) + [
        "ruled_out"] * 3 + ["unknown"]
    assert [engine_says[p].rank for p in picks[:5]] == [1, 2, 3, 4, 5]
