"""Ofsted's provider-level list: each registered provider's latest overall judgement.

The list (as published: "Children's social care data in England - Provider level", a few
lines of title and notes, then a header with `URN` and `Overall experiences and progress
of children and young people`) gives the rating the engine uses for every placement whose
`urn` it holds; where the register says otherwise, the reader warns.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from .categories import NOT_RATED

OVERALL = "overall experiences and progress of children and young people"
JUDGEMENTS = {
    "outstanding": "outstanding",
    "good": "good",
    "requires improvement to be good": "requires_improvement",
    "requires improvement": "requires_improvement",
    "inadequate": "inadequate",
}


def read_ofsted(path: str | Path) -> dict[str, str]:
    """URN -> the format's rating word (`not_rated` where no judgement is given).

    Raises ValueError naming the file when it has no header row with URN and the overall
    judgement.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    start = next((i for i, row in enumerate(rows)
                  if {"urn", OVERALL} <= {c.strip().lower() for c in row}), None)
    if start is None:
        raise ValueError(f"{path.name}: no header row with the columns URN and "
                         f"'{OVERALL}' (Ofsted's provider-level list)")
    names = [c.strip().lower() for c in rows[start]]
    urn_at, overall_at = names.index("urn"), names.index(OVERALL)
    out: dict[str, str] = {}
    for row in rows[start + 1:]:
        if len(row) <= max(urn_at, overall_at) or not row[urn_at].strip():
            continue
        word = " ".join(row[overall_at].split()).lower()
        out[row[urn_at].strip()] = JUDGEMENTS.get(word, NOT_RATED)
    return out
