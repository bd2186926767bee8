"""The policy: policy.toml (or a workbook's policy sheet) read with where each key is, a
preset laid over it, and its types and values checked; unknown sections and keys only
warn."""

from __future__ import annotations

import re
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimiser.categories import RATINGS
from optimiser.instance import Policy, Rules, Weights

from .cells import MAX_POUNDS
from .collect import Collector

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

Where = dict[str, tuple[int, str | None]]  # `section.key` -> (row, column) it is written at

_TOML_POS = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_TOML_SECTION = re.compile(r"^\s*\[\s*([A-Za-z0-9_-]+)\s*\]")
_TOML_KEY = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*=")


def read_toml(f: Path, out: Collector) -> tuple[dict, Where]:
    """Parse policy.toml; also note the line of each `section.key`, for precise problems."""
    try:
        text = f.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        out.add("policy.toml", None, None, "is not UTF-8 text")
        return {}, {}
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        detail = str(e)
        m = _TOML_POS.search(detail)
        row = int(m.group(1)) if m else None
        if m:
            detail = f"{detail[: m.start()]} at character {m.group(2)}"
        out.add("policy.toml", row, None,
                f"is not valid TOML: {detail[:1].lower()}{detail[1:]} (text values need "
                'double quotes, e.g. min_ofsted_rating = "good"; numbers and true/false do not)')
        return {}, {}
    where: Where = {}
    section = ""
    for line_no, line in enumerate(text.splitlines(), start=1):
        if m := _TOML_SECTION.match(line):
            section = m.group(1)
        elif m := _TOML_KEY.match(line):
            key = m.group(1)
            where.setdefault(f"{section}.{key}" if section else key, (line_no, None))
    return data, where


def policy_from_sheet(df: pd.DataFrame, out: Collector) -> tuple[dict, Where]:
    """Sheet `policy`: columns key (`weights.per_km`) and value, each value read as TOML."""
    policy: dict = {}
    where: Where = {}
    if "key" not in df.columns or "value" not in df.columns:
        out.add("policy sheet", 1, None, "needs the columns key and value")
        return policy, where
    for row, key, value in zip(df.index, df["key"], df["value"], strict=True):
        if not key:
            continue
        if not value:
            out.warn(f"policy sheet: {key} has no value; the default is used")
            continue
        section, dot, name = key.partition(".")
        if not dot or not name:
            out.add("policy sheet", int(row), "key",
                    f"{key!r} is not a section.key name such as weights.per_km")
            continue
        try:
            parsed = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            parsed = value.lower() == "true" if value.lower() in ("true", "false") else value
        policy.setdefault(section, {})[name] = parsed
        where[key] = (int(row), "value")
    return policy, where


def overlay_policy(raw: dict, preset: Path, out: Collector) -> dict:
    """`raw` with a preset policy.toml laid over it: its keys win, the others stay."""
    if not preset.is_file():
        out.add(str(preset), None, None, "no such policy file")
        return raw
    over, _ = read_toml(preset, out)
    merged = {k: dict(v) if isinstance(v, dict) else v for k, v in raw.items()}
    for section, values in over.items():
        if isinstance(values, dict) and isinstance(merged.get(section), dict):
            merged[section].update(values)
        else:
            merged[section] = values
    return merged


def policy_keys(raw: dict) -> set[str]:
    """`section.key` of every key the policy gives."""
    return {f"{section}.{key}" for section, values in raw.items() if isinstance(values, dict)
            for key in values}


def _bad(out: Collector, file: str, where: Where, key: str, value: Any, must: str) -> None:
    row, column = where.get(key, (None, None))
    out.add(file, row, column, f"{key} is {value!r}, but must be {must}")


def parse_policy(raw: dict, file: str, out: Collector, where: Where) -> Policy:
    """Check the policy's types and values; unknown sections and keys only warn."""
    for section in raw:
        if section not in ("weights", "rules"):
            out.warn(f"{file}: unknown section [{section}] ignored")
    w_raw = raw.get("weights", {})
    if not isinstance(w_raw, dict):
        _bad(out, file, where, "weights", w_raw,
             "a section: write [weights] on a line of its own")
        w_raw = {}
    weights = _weights(w_raw, file, out, where)
    r_raw = raw.get("rules", {})
    if not isinstance(r_raw, dict):
        _bad(out, file, where, "rules", r_raw, "a section: write [rules] on a line of its own")
        r_raw = {}
    rules = _rules(r_raw, file, out, where)
    return Policy(weights=Weights(**weights), rules=Rules(**rules))


def _weights(w_raw: dict, file: str, out: Collector, where: Where) -> dict[str, float]:
    """The valid weights of [weights], each a number of pounds per week."""
    weights: dict[str, float] = {}
    names = {f.name for f in fields(Weights)}
    for key, value in w_raw.items():
        name = f"weights.{key}"
        if key not in names:
            out.warn(f"{file}: unknown key {name} ignored")
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            _bad(out, file, where, name, value, "a number (pounds per week)")
        elif not np.isfinite(value) or value < 0 or value > MAX_POUNDS:
            _bad(out, file, where, name, value,
                 f"a number from 0 to {MAX_POUNDS:,.0f} (pounds per week)")
        else:
            weights[key] = float(value)
    return weights


def _rules(r_raw: dict, file: str, out: Collector, where: Where) -> dict[str, Any]:
    """The valid rules of [rules]."""
    rules: dict[str, Any] = {}
    for key, value in r_raw.items():
        name = f"rules.{key}"
        if key == "min_ofsted_rating":
            rating = value.strip().lower() if isinstance(value, str) else None
            if rating not in RATINGS:
                _bad(out, file, where, name, value, f"one of {', '.join(RATINGS)}")
            else:
                rules[key] = rating
        elif key in ("split_siblings", "move_only_in_child_interest"):
            if not isinstance(value, bool):
                _bad(out, file, where, name, value, "true or false (without quotes)")
            else:
                rules[key] = value
        elif key == "min_move_km":
            if isinstance(value, bool) or not isinstance(value, int | float) or not (
                    np.isfinite(value) and value >= 0):
                _bad(out, file, where, name, value, "a distance in km, 0 or more")
            else:
                rules[key] = float(value)
        else:
            out.warn(f"{file}: unknown key {name} ignored")
    return rules
