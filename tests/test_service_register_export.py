"""The register written out (export) holds no text a spreadsheet could run as a formula,
and its ids come back unchanged through an import and the engine's reader."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

for _dep in ("fastapi", "uvicorn", "sqlalchemy", "alembic", "argon2", "multipart", "httpx"):
    pytest.importorskip(_dep)

from service_helpers import (  # noqa: E402
    Setup,
    database_url,
    demo_files,
    demo_workbook,
    make_setup,
)

from optimiser import load_instance  # noqa: E402
from optimiser.safe_text import FORMULA_STARTS  # noqa: E402
from optimiser.service.register import export  # noqa: E402

ODD_ID = "-P00002"  # a placement id a spreadsheet would read as a formula
PROVIDER = "=HYPERLINK(1)"
REASON = "@risk from a resident"


@pytest.fixture
def s(tmp_path: Path) -> Iterator[Setup]:
    setup = make_setup(database_url("sqlite", tmp_path), seeded=True)
    yield setup
    setup.client.close()
    setup.engine.dispose()


def odd_files() -> dict[str, bytes]:
    """The demo register with one placement id, a provider and a reason formula-like (the
    id written neutralised, as the engine writes it; the other two raw, as a person might)."""
    out = {}
    for name, data in demo_files().items():
        text = re.sub(r"\bP00002\b", "'" + ODD_ID, data.decode())
        if name == "placements.csv":
            text = text.replace("'-P00002,Inhouse fostering,", f"'-P00002,{PROVIDER},")
        if name == "exclusions.csv":
            text = text.replace(",previous breakdown\n", f",{REASON}\n", 1)
        out[name] = text.encode()
    assert b"Inhouse fostering" not in out["placements.csv"].splitlines()[2]
    return out


def unsafe_cells(folder: Path) -> list[str]:
    """Cells of the CSVs in `folder` a spreadsheet would run (a number like -1.2 is fine)."""
    bad = []
    for f in sorted(folder.glob("*.csv")):
        for row in csv.reader(io.StringIO(f.read_text(encoding="utf-8"))):
            for cell in row:
                if cell.startswith(FORMULA_STARTS):
                    try:
                        float(cell)
                    except ValueError:
                        bad.append(f"{f.name}: {cell}")
    return bad


def exported(s: Setup, folder: Path) -> Path:
    with s.engine.connect() as conn:
        export(conn, folder)
    return folder


def test_a_csv_import_keeps_the_ids_and_the_export_is_safe(s: Setup, tmp_path: Path) -> None:
    r = s.post("/api/v1/register/import", "admin",
               files={n: (n, d) for n, d in odd_files().items()})
    assert r.status_code == 200, r.text
    got = s.get(f"/api/v1/placements/{ODD_ID}", "officer")
    assert got.status_code == 200, got.text
    assert got.json()["placement_id"] == ODD_ID
    folder = exported(s, tmp_path / "out")
    assert unsafe_cells(folder) == []
    text = (folder / "placements.csv").read_text(encoding="utf-8")
    assert f"'{ODD_ID}," in text and f"'{PROVIDER}" in text
    assert f"'{REASON}" in (folder / "exclusions.csv").read_text(encoding="utf-8")
    inst = load_instance(folder)
    assert ODD_ID in inst.placement_index
    again = s.post("/api/v1/register/import", "admin",  # the export imports as it is
                   files={f.name: (f.name, f.read_bytes()) for f in folder.iterdir()
                          if f.suffix in (".csv", ".toml")})
    assert again.status_code == 200, again.text
    assert s.get(f"/api/v1/placements/{ODD_ID}", "officer").status_code == 200


def test_a_workbook_import_keeps_the_ids_and_the_export_is_safe(s: Setup,
                                                               tmp_path: Path) -> None:
    pytest.importorskip("openpyxl")
    book = demo_workbook(40, lambda c: ODD_ID if c == "P00002" else c)
    r = s.post("/api/v1/register/import", "admin",
               files={"workbook": ("register.xlsx", book)})
    assert r.status_code == 200, r.text
    assert s.get(f"/api/v1/placements/{ODD_ID}", "officer").json()["placement_id"] == ODD_ID
    folder = exported(s, tmp_path / "out")
    assert unsafe_cells(folder) == []
    assert ODD_ID in load_instance(folder).placement_index
