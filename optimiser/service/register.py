"""The register's children, placements, exclusions and policy: import, rows, and Instance.

Import is validated by the engine's own reader (`load_instance`) on the files exactly as
sent, so the service accepts what `placement solve` accepts and reports every problem at
once. The register is turned back into an Instance the same way: its rows are written as
an interchange folder and read by `load_instance`, so the service never re-implements a
rule of the format.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, delete, select

from optimiser import Instance, InstanceError, Problem, load_instance
from optimiser.reader import workbook_cell
from optimiser.safe_text import neutralise_cell, restore

from . import audit
from .db import (
    bump_version,
    children,
    exclusions,
    placements,
    register_files,
    register_meta,
    write,
)
from .errors import ImportRefused, NotFound

CSV_FILES = ("children.csv", "placements.csv", "exclusions.csv", "distances.csv",
             "adjoining.csv")
COMMISSION_FILES = ("contracts.csv", "spot.csv", "demand.toml")  # for capacity plans
UPLOAD_NAMES = (*CSV_FILES, "policy.toml", *COMMISSION_FILES)
REQUIRED_UPLOADS = (("children.csv", True), ("placements.csv", True), ("exclusions.csv", False),
                    ("policy.toml", False), ("distances.csv", False), ("adjoining.csv", False),
                    *((name, False) for name in COMMISSION_FILES))
SHEETS = ("children", "placements", "exclusions", "distances")
MAX_UPLOAD = 64 * 1024 * 1024  # bytes per uploaded file
KEPT_FILES = ("policy.toml", "distances.csv", "adjoining.csv", *COMMISSION_FILES)  # as given


def problem_dicts(problems: list[Problem]) -> list[dict[str, Any]]:
    return [{"file": p.file, "row": p.row, "column": p.column, "message": p.message}
            for p in problems]


# --------------------------------------------------------------------------- reading input


def _records(text: str) -> list[dict[str, str]]:
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows:
        return []
    # a leading ' before a formula start is the format's neutralisation, not the value
    rows = [[restore(c) for c in r] for r in rows]
    header = [h.strip() for h in rows[0]]
    out = []
    for r in rows[1:]:
        if not any(c.strip() for c in r):
            continue
        out.append({h: (r[i] if i < len(r) else "") for i, h in enumerate(header) if h})
    return out


def _workbook_tables(path: Path) -> dict[str, str]:
    """The workbook's tables as CSV text (called only after the reader accepted it), every
    cell safe from running as a formula where the text is written out as it is."""
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        out: dict[str, str] = {}
        for ws in wb.worksheets:
            name = ws.title.strip().lower()
            if name not in SHEETS:
                continue
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\n")
            for row in ws.iter_rows(values_only=True):
                w.writerow([neutralise_cell(workbook_cell(v)) for v in row])
            out[f"{name}.csv"] = buf.getvalue()
        return out
    finally:
        wb.close()


def _policy_toml(inst: Instance) -> str:
    """The policy the reader understood, written as policy.toml (a workbook has a sheet)."""
    lines = []
    for section, values in (("weights", asdict(inst.policy.weights)),
                            ("rules", asdict(inst.policy.rules))):
        lines.append(f"[{section}]")
        for k, v in values.items():
            lines.append(f"{k} = {json.dumps(v)}")
    return "\n".join(lines) + "\n"


def validate_upload(files: dict[str, bytes]) -> tuple[Instance, dict[str, str]]:
    """Check the upload with the engine's reader; return the instance and the files as text.

    `files` maps a field name (`children.csv`, ..., or `workbook`) to its bytes.
    """
    unknown = [n for n in files if n not in (*UPLOAD_NAMES, "workbook")]
    if unknown:
        raise ImportRefused([Problem(n, None, None, "unknown field: send the interchange files "
                                     f"({', '.join(UPLOAD_NAMES)}) or one workbook")
                             for n in unknown])
    if "workbook" in files and len(files) > 1:
        raise ImportRefused([Problem("workbook", None, None,
                                     "send either one workbook or the CSV files, not both")])
    with tempfile.TemporaryDirectory(prefix="placement-import-") as tmp:
        root = Path(tmp)
        if "workbook" in files:
            target = root / "register.xlsx"
            target.write_bytes(files["workbook"])
        else:
            target = root / "register"
            target.mkdir()
            for name, data in files.items():
                (target / name).write_bytes(data)
        try:
            inst = load_instance(target)
            if any(name in files for name in COMMISSION_FILES):
                from optimiser.commission import load_commission

                load_commission(target)  # the commissioning files, read as plan-capacity reads
        except InstanceError as e:
            raise ImportRefused(e.problems) from e
        if "workbook" in files:
            texts = _workbook_tables(target)
            texts["policy.toml"] = _policy_toml(inst)
        else:
            texts = {n: d.decode("utf-8-sig") for n, d in files.items()}
    return inst, texts


# --------------------------------------------------------------------------- storing


def replace_register(conn: Connection, texts: dict[str, str]) -> tuple[int, int]:
    """Replace children, placements, exclusions and policy (in the caller's transaction)."""
    ch = _records(texts["children.csv"])
    pl = _records(texts["placements.csv"])
    ex = _records(texts.get("exclusions.csv", ""))
    for table in (exclusions, children, placements, register_files):
        conn.execute(delete(table))
    ccols = list(ch[0].keys()) if ch else ["child_id"]
    pcols = list(pl[0].keys()) if pl else ["placement_id"]
    fixed_c = ("child_id", "sibling_group", "current_placement")
    if ch:
        conn.execute(children.insert(), [
            {"child_id": r["child_id"].strip(), "row_no": i,
             "sibling_group": r.get("sibling_group", "").strip(),
             "current_placement": r.get("current_placement", "").strip(),
             "data": json.dumps({k: v for k, v in r.items() if k not in fixed_c})}
            for i, r in enumerate(ch)])
    fixed_p = ("placement_id", "vacancies", "on_hold_reason")
    if pl:
        conn.execute(placements.insert(), [
            {"placement_id": r["placement_id"].strip(), "row_no": i,
             "vacancies": int(float(r["vacancies"])),
             "on_hold_reason": r.get("on_hold_reason", ""),
             "data": json.dumps({k: v for k, v in r.items() if k not in fixed_p})}
            for i, r in enumerate(pl)])
    if ex:
        conn.execute(exclusions.insert(), [
            {"child_id": r["child_id"].strip(), "placement_id": r["placement_id"].strip(),
             "reason": r.get("reason", "")} for r in ex])
    kept = [{"name": n, "content": texts[n]} for n in KEPT_FILES if n in texts]
    if kept:
        conn.execute(register_files.insert(), kept)
    conn.execute(register_meta.update().where(register_meta.c.id == 1).values(
        child_columns=json.dumps(ccols), placement_columns=json.dumps(pcols)))
    bump_version(conn, reset=True)
    return len(ch), len(pl)


# --------------------------------------------------------------------------- reading back


def child_row(row: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"child_id": row.child_id}
    d.update(json.loads(row.data))
    d["sibling_group"] = row.sibling_group
    d["current_placement"] = row.current_placement
    return d


def placement_row(row: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"placement_id": row.placement_id}
    d.update(json.loads(row.data))
    d["vacancies"] = row.vacancies
    d["on_hold_reason"] = row.on_hold_reason
    return d


def _write_csv(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> None:
    """A table as CSV, each text cell neutralised (the reader undoes it; numbers stay)."""
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow([neutralise_cell(c) for c in columns])
        for r in rows:
            w.writerow([neutralise_cell("" if r.get(c) is None else str(r.get(c)))
                        for c in columns])


def export(conn: Connection, folder: Path) -> None:
    """Write the register as it is now as an interchange folder."""
    meta = conn.execute(select(register_meta)).mappings().one()
    ccols = json.loads(meta["child_columns"])
    pcols = json.loads(meta["placement_columns"])
    crow = [child_row(r) for r in conn.execute(select(children).order_by(children.c.row_no))]
    prow = [placement_row(r)
            for r in conn.execute(select(placements).order_by(placements.c.row_no))]
    for extra in ("sibling_group", "current_placement"):
        if extra not in ccols and any(r[extra] for r in crow):
            ccols.append(extra)
    if "on_hold_reason" not in pcols and any(r["on_hold_reason"] for r in prow):
        pcols.append("on_hold_reason")
    folder.mkdir(parents=True, exist_ok=True)
    _write_csv(folder / "children.csv", ccols, crow)
    _write_csv(folder / "placements.csv", pcols, prow)
    ex = [dict(r._mapping) for r in conn.execute(select(exclusions).order_by(exclusions.c.id))]
    if ex:
        _write_csv(folder / "exclusions.csv", ["child_id", "placement_id", "reason"], ex)
    for r in conn.execute(select(register_files)):
        (folder / r.name).write_text(r.content, encoding="utf-8")


def build_instance(conn: Connection) -> Instance:
    """The register as the engine's Instance (raises InstanceError if it is not valid)."""
    with tempfile.TemporaryDirectory(prefix="placement-register-") as tmp:
        export(conn, Path(tmp))
        return load_instance(tmp)


def has_register(conn: Connection) -> bool:
    return conn.execute(select(placements.c.placement_id).limit(1)).first() is not None


# --------------------------------------------------------------------------- changes


def import_register(engine: Engine, user: str, files: dict[str, bytes]) -> dict[str, int]:
    """Validate, then replace the register in one transaction with its audit event."""
    _, texts = validate_upload(files)
    with write(engine) as conn:
        n, m = replace_register(conn, texts)
        audit.append(conn, user, "register.import", "register",
                     {"children": n, "placements": m, "files": sorted(files)})
    return {"children": n, "placements": m}


def edit_placement(engine: Engine, user: str, placement_id: str, vacancies: int | None,
                   on_hold_reason: str | None) -> dict[str, Any]:
    """Change a placement's beds or hold; the register must still load (else ImportRefused,
    and nothing changes)."""
    values: dict[str, Any] = {}
    if vacancies is not None:
        values["vacancies"] = vacancies
    if on_hold_reason is not None:
        values["on_hold_reason"] = on_hold_reason
    with write(engine) as conn:
        before = conn.execute(select(placements).where(
            placements.c.placement_id == placement_id)).first()
        if before is None:
            raise NotFound("no such placement")
        conn.execute(placements.update().where(
            placements.c.placement_id == placement_id).values(**values))
        try:
            build_instance(conn)
        except InstanceError as e:
            raise ImportRefused(e.problems) from e
        bump_version(conn, placement_ids=[placement_id])
        audit.append(conn, user, "placement.edit", f"placement:{placement_id}",
                     {"before": {k: getattr(before, k) for k in values}, "after": values})
        row = conn.execute(select(placements).where(
            placements.c.placement_id == placement_id)).one()
    return placement_row(row)
