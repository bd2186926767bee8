"""The matches the service answers equal `placement match --json` on the same register."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

for _dep in ("fastapi", "uvicorn", "sqlalchemy", "alembic", "argon2", "multipart", "httpx"):
    pytest.importorskip(_dep)

from service_helpers import DEMO, Setup, make_setup, open_referral, seeded_sqlite  # noqa: E402

from optimiser.cli import build_parser, cmd_match  # noqa: E402


def cli_match(folder: Path, capsys: pytest.CaptureFixture[str], *who: str) -> dict[str, Any]:
    args = build_parser().parse_args(["match", str(folder), *who, "--json"])
    capsys.readouterr()
    assert cmd_match(args) == 0
    return dict(json.loads(capsys.readouterr().out))


def comparable(d: dict[str, Any]) -> dict[str, Any]:
    """Without the time taken and the service's `approval` additions."""
    d = {k: v for k, v in d.items() if k != "seconds"}
    for key in ("ranked", "near_misses"):
        d[key] = [{k: v for k, v in r.items() if k != "approval"} for r in d[key]]
    return d


@pytest.fixture
def s(tmp_path: Path) -> Setup:
    return make_setup(seeded_sqlite(tmp_path), seeded=True)


def service_match(s: Setup, body: dict[str, str]) -> dict[str, Any]:
    rid = s.post("/api/v1/referrals", "officer", json=body).json()["referral_id"]
    r = s.get(f"/api/v1/referrals/{rid}/matches", "officer")
    assert r.status_code == 200
    return dict(r.json())


@pytest.mark.parametrize(("body", "flag"), [({"child_id": "C00001"}, "--child"),
                                            ({"child_id": "C00003"}, "--child"),
                                            ({"sibling_group": "G0001"}, "--group")])
def test_matches_equal_the_command_on_the_imported_register(
        s: Setup, capsys: pytest.CaptureFixture[str], body: dict[str, str], flag: str) -> None:
    got = service_match(s, body)
    want = cli_match(DEMO, capsys, flag, next(iter(body.values())))
    assert comparable(got) == comparable(want)
    assert got["ranked"] and got["ruled_out"]


def rewrite(path: Path, key: str, row_id: str, column: str, value: str) -> None:
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    fields = list(rows[0])
    hit = [r for r in rows if r[key] == row_id]
    assert len(hit) == 1
    hit[0][column] = value
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def test_matches_follow_the_register_after_a_decision_and_an_edit(
        s: Setup, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rid = open_referral(s, "C00001")
    best = s.get(f"/api/v1/referrals/{rid}/matches", "officer").json()["ranked"][0]
    pid, vac = best["placement_id"], best["vacancies_after"] + 1
    assert s.post(f"/api/v1/referrals/{rid}/decision", "officer",
                  json={"placement_id": pid, "decision": "accept"}).status_code == 200
    s.client.patch("/api/v1/placements/P00002", headers=s.headers["manager"],
                   json={"on_hold_reason": "holiday"})
    # the same register, written by hand as an interchange folder
    folder = tmp_path / "by-hand"
    shutil.copytree(DEMO, folder)
    rewrite(folder / "placements.csv", "placement_id", pid, "vacancies", str(vac - 1))
    rewrite(folder / "children.csv", "child_id", "C00001", "current_placement", pid)
    with (folder / "placements.csv").open(encoding="utf-8") as f:
        text = f.read().splitlines()
    text = [text[0] + ",on_hold_reason"] + [
        line + (",holiday" if line.startswith("P00002,") else ",") for line in text[1:]]
    (folder / "placements.csv").write_text("\n".join(text) + "\n", encoding="utf-8")
    for child in ("C00004", "C00001"):
        got = service_match(s, {"child_id": child})
        assert comparable(got) == comparable(cli_match(folder, capsys, "--child", child))
    assert "P00002" not in [r["placement_id"] for r in service_match(
        s, {"child_id": "C00004"})["ranked"]]
