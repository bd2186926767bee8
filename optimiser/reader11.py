"""Reading the columns, file and policy keys that version 1.1 of the format adds.

`reserved_for` (placements), `authority` (both sides), `urn` (placements) and
`adjoining.csv`: each problem is named by file, row and column, as the rest of the reader
does; what is merely doubtful (a kinship carer reserved for no one, a reservation that
names no child of the instance) is a warning.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .categories import PlacementType

CHILD_COLUMNS_11 = frozenset({"authority"})
PLACEMENT_COLUMNS_11 = frozenset({"reserved_for", "authority", "urn"})
ADJOINING_COLUMNS = {"authority": True, "neighbour": True}
POLICY_KEYS_11 = frozenset({"weights.out_of_area", "rules.move_only_in_child_interest",
                            "rules.min_move_km"})


@dataclass(frozen=True)
class Format11:
    """What the 1.1 columns and file hold, as the Instance keeps it."""

    authority: np.ndarray  # int32 (n), -1 none
    pauthority: np.ndarray  # int32 (m), -1 none
    authorities: tuple[str, ...]
    authority_labels: tuple[str, ...]  # each code as first written (for people)
    adjoining: np.ndarray | None  # bool (A, A)
    reserved_for: np.ndarray  # object (m), "" none
    reserve_child: np.ndarray  # int32 pairs a reserved placement may take
    reserve_placement: np.ndarray
    urn: np.ndarray  # object (m)
    used: bool  # any 1.1 column, file or policy key is given


def _key(text: str) -> str:
    """Authorities are matched by GSS code or name, in any case and spacing."""
    return " ".join(text.split()).lower()


def _items(cell: str) -> list[str]:
    return [x.strip() for x in cell.split(";") if x.strip()]


Problems = list[tuple[str, int | None, str | None, str]]


def read_format11(ch: pd.DataFrame, pl: pd.DataFrame, adj: pd.DataFrame | None,
                  files: tuple[str, str, str], policy_keys: set[str],
                  ptype: np.ndarray) -> tuple[Format11, Problems, list[str]]:
    """Parse the 1.1 columns (already present in `ch` and `pl`, "" where not given).

    `files`: how children, placements and adjoining are named in problems. Returns the
    parsed data, the problems (file, row, column, message) and the warnings.
    """
    cf, pf, af = files
    problems: Problems = []
    warnings: list[str] = []
    c_auth = [_key(v) for v in ch["authority"].tolist()]
    p_auth = [_key(v) for v in pl["authority"].tolist()]
    pairs: list[tuple[str, str, int]] = []
    if adj is not None:
        for row, a, b in zip(adj.index, adj["authority"], adj["neighbour"], strict=True):
            for col, v in (("authority", a), ("neighbour", b)):
                if v == "":
                    problems.append((af, int(row), col, "is required but empty"))
            if a and b:
                if _key(a) == _key(b):
                    problems.append((af, int(row), "neighbour",
                                     f"{b!r} is the authority itself"))
                pairs.append((_key(a), _key(b), int(row)))
    vocab = sorted({a for a in c_auth + p_auth if a} | {x for a, b, _ in pairs for x in (a, b)})
    code = {a: i for i, a in enumerate(vocab)}
    written: dict[str, str] = {}
    raw = ch["authority"].tolist() + pl["authority"].tolist()
    if adj is not None:
        raw += adj["authority"].tolist() + adj["neighbour"].tolist()
    for v in raw:
        if v:
            written.setdefault(_key(v), " ".join(str(v).split()))
    adjacency = None
    if adj is not None:
        adjacency = np.zeros((len(vocab), len(vocab)), dtype=bool)
        for a, b, _ in pairs:
            adjacency[code[a], code[b]] = adjacency[code[b], code[a]] = True
        known = {a for a in c_auth + p_auth if a}
        stray = sorted({x for a, b, _ in pairs for x in (a, b)} - known)
        if stray and known:
            warnings.append(f"{af}: {len(stray)} authorit(ies) named in no authority column "
                            f"(first: {stray[0]!r}); check the spelling")
    reserve_c, reserve_p, problems_r, warnings_r = _reservations(ch, pl, pf, ptype)
    problems += problems_r
    warnings += warnings_r
    urn = pl["urn"].to_numpy(dtype=object)
    seen: dict[str, int] = {}
    for row, u in zip(pl.index, urn.tolist(), strict=True):
        if u == "":
            continue
        if u in seen:
            warnings.append(f"{pf}: row {row}, column urn: {u} is also given at row "
                            f"{seen[u]} (one Ofsted registration for two placements)")
        seen.setdefault(u, int(row))
    used = (any(c_auth) or any(p_auth) or adj is not None or bool(len(reserve_c))
            or (pl["reserved_for"] != "").any() or (pl["urn"] != "").any()
            or bool(policy_keys & POLICY_KEYS_11))
    return Format11(
        authority=np.array([code.get(a, -1) if a else -1 for a in c_auth], dtype=np.int32),
        pauthority=np.array([code.get(a, -1) if a else -1 for a in p_auth], dtype=np.int32),
        authorities=tuple(vocab), authority_labels=tuple(written[a] for a in vocab),
        adjoining=adjacency,
        reserved_for=pl["reserved_for"].to_numpy(dtype=object),
        reserve_child=np.asarray(reserve_c, dtype=np.int32),
        reserve_placement=np.asarray(reserve_p, dtype=np.int32),
        urn=urn, used=bool(used)), problems, warnings


def _reservations(ch: pd.DataFrame, pl: pd.DataFrame, pf: str, ptype: np.ndarray
                  ) -> tuple[list[int], list[int], Problems, list[str]]:
    """The (child, placement) pairs `reserved_for` allows: a child named by its id or by
    its sibling group. A name that is neither is a warning (a carer approved for a family
    not in this instance takes no one); so is a kinship carer reserved for no one."""
    by_id = {c: i for i, c in enumerate(ch["child_id"].tolist()) if c}
    by_group: dict[str, list[int]] = {}
    for i, g in enumerate(ch["sibling_group"].tolist()):
        if g:
            by_group.setdefault(g, []).append(i)
    kids: list[int] = []
    places: list[int] = []
    warnings: list[str] = []
    unnamed = []
    for j, (row, cell) in enumerate(zip(pl.index, pl["reserved_for"].tolist(), strict=True)):
        if cell == "":
            if int(ptype[j]) == PlacementType.KINSHIP_FOSTER:
                unnamed.append(int(row))
            continue
        allowed: set[int] = set()
        for name in _items(cell):
            hit = ([by_id[name]] if name in by_id else []) + by_group.get(name, [])
            if not hit:
                warnings.append(f"{pf}: row {row}, column reserved_for: {name!r} is no child "
                                "id or sibling group of this instance")
            allowed.update(hit)
        kids += sorted(allowed)
        places += [j] * len(allowed)
    if unnamed:
        warnings.append(f"{pf}: {len(unnamed)} kinship_foster placement(s) without "
                        f"reserved_for (first: row {unnamed[0]}): a connected-person carer is "
                        "approved for one child or family; say whom in reserved_for")
    return kids, places, [], warnings
