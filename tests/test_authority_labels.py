"""Authority codes are matched in any case, and shown to people as first written."""
from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from optimiser.reader import load_instance

TINY = Path(__file__).resolve().parents[1] / "instances" / "tiny"


def test_label_is_the_code_as_first_written(tmp_path: Path) -> None:
    shutil.copytree(TINY, tmp_path / "inst")
    path = tmp_path / "inst" / "children.csv"
    ch = pd.read_csv(path, dtype=str, keep_default_na=False)
    first = ch.loc[0, "authority"]
    ch.loc[0, "authority"] = "Leics  Test"
    ch.loc[1:, "authority"] = [a.lower() if a == first else a for a in ch.loc[1:, "authority"]]
    ch.loc[1, "authority"] = "LEICS TEST"
    ch.to_csv(path, index=False)
    inst = load_instance(tmp_path / "inst")
    code = inst.authorities.index("leics test")
    assert inst.authority[0] == inst.authority[1] == code
    assert inst.authority_label(code) == "Leics Test"
    assert inst.authority_label(-1) == ""


def test_shipped_codes_keep_their_capitals() -> None:
    inst = load_instance(TINY)
    assert inst.authorities and all(a == a.lower() for a in inst.authorities)
    labels = [inst.authority_label(k) for k in range(len(inst.authorities))]
    assert labels == [a.upper() for a in inst.authorities]
