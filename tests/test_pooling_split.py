"""Who owns what, and the instance of a coalition: children of its members, their own
placements, and the beds where its children live now (no vacancy)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pooling_helpers import small_region

from optimiser.objective import haversine_km
from optimiser.pooling.split import (
    PoolingError,
    check_fields,
    coalition_instance,
    split_instance,
)
from optimiser.reader import load_instance


def test_singletons_partition_children_and_placements(tmp_path: Path) -> None:
    inst = small_region(tmp_path / "r", 3, 1, children=45)
    s = split_instance(inst)
    assert s.names == tuple(sorted(s.names)) and len(s.names) == 3
    kids, places = [], []
    for i in range(3):
        sub, k, p = coalition_instance(s, 1 << i)
        assert sub.n_children == len(k) and sub.n_placements == len(p)
        assert (inst.authority[k] == inst.authorities.index(s.names[i])).all()
        np.testing.assert_array_equal(sub.child_ids, inst.child_ids[k])
        np.testing.assert_array_equal(sub.vacancies, inst.vacancies[p])
        kids += k.tolist()
        places += p.tolist()
    assert sorted(kids) == list(range(inst.n_children))
    assert sorted(places) == list(range(inst.n_placements))
    whole, k, p = coalition_instance(s, s.grand)
    assert whole.n_children == inst.n_children and whole.n_placements == inst.n_placements


def test_placements_outside_every_member_go_to_the_nearest(tmp_path: Path) -> None:
    inst = small_region(tmp_path / "r", 2, 2, children=40)
    s = split_instance(inst)
    assert inst.pauthority is not None
    codes = [inst.authorities.index(n) for n in s.names]
    inside = np.isin(inst.pauthority, codes)
    assert (~inside).any()  # the generator puts some homes outside the region
    for p in np.flatnonzero(inside):
        assert s.names[s.placement_owner[p]] == inst.authorities[inst.pauthority[p]]
    for p in np.flatnonzero(~inside):
        d = [haversine_km(inst.home_lat[s.child_owner == k].mean(),
                          inst.home_lon[s.child_owner == k].mean(), inst.lat[p], inst.lon[p])
             for k in (0, 1)]
        assert s.placement_owner[p] == int(np.argmin(d))


def _edit(folder: Path, name: str, fn) -> None:  # type: ignore[no-untyped-def]
    df = pd.read_csv(folder / name, dtype=str, keep_default_na=False)
    fn(df)
    df.to_csv(folder / name, index=False)


def test_a_guest_bed_keeps_its_resident_without_vacancy(tmp_path: Path) -> None:
    small_region(tmp_path / "r", 2, 3, children=30)
    inst0 = load_instance(tmp_path / "r")
    s0 = split_instance(inst0)
    kid = int(np.flatnonzero((s0.child_owner == 0) & (inst0.sibling_group == ""))[0])
    host = int(np.flatnonzero(s0.placement_owner == 1)[0])
    pid = inst0.placement_ids[host]
    _edit(tmp_path / "r", "children.csv",
          lambda df: df.__setitem__("current_placement",
                                    np.where(df["child_id"] == inst0.child_ids[kid], pid, "")))
    inst = load_instance(tmp_path / "r")
    s = split_instance(inst)
    sub, k, p = coalition_instance(s, 1)
    j = int(np.flatnonzero(p == host)[0])
    assert sub.vacancies[j] == 0 and sub.capacity[j] == 1
    assert sub.current[int(np.flatnonzero(k == kid)[0])] == j
    other, _, q = coalition_instance(s, 2)
    jj = int(np.flatnonzero(q == host)[0])
    assert other.capacity[jj] == inst.vacancies[host]  # the resident is not B's
    assert inst.capacity[host] == sub.capacity[j] + other.capacity[jj]


def test_a_reserved_bed_belongs_to_its_childs_authority(tmp_path: Path) -> None:
    small_region(tmp_path / "r", 2, 4, children=30)
    inst0 = load_instance(tmp_path / "r")
    s0 = split_instance(inst0)
    kid = int(np.flatnonzero((s0.child_owner == 0) & (inst0.sibling_group == ""))[0])
    host = int(np.flatnonzero(s0.placement_owner == 1)[0])

    def reserve(df: pd.DataFrame) -> None:
        df["reserved_for"] = np.where(df["placement_id"] == inst0.placement_ids[host],
                                      inst0.child_ids[kid], "")

    _edit(tmp_path / "r", "placements.csv", reserve)
    s = split_instance(load_instance(tmp_path / "r"))
    assert s.placement_owner[host] == 0


def test_children_without_authority_or_split_families_are_refused(tmp_path: Path) -> None:
    small_region(tmp_path / "r", 2, 5, children=30)
    ch = pd.read_csv(tmp_path / "r" / "children.csv", dtype=str, keep_default_na=False)
    group = ch.loc[ch["sibling_group"] != "", "sibling_group"].iloc[0]
    rows = np.flatnonzero(ch["sibling_group"] == group)
    other = sorted(set(ch["authority"]) - {ch.loc[rows[0], "authority"]})[0]
    ch.loc[rows[1], "authority"] = other
    ch.to_csv(tmp_path / "r" / "children.csv", index=False)
    with pytest.raises(PoolingError, match="spans several authorities"):
        split_instance(load_instance(tmp_path / "r"))
    ch["authority"] = ""
    ch.to_csv(tmp_path / "r" / "children.csv", index=False)
    with pytest.raises(PoolingError, match="without an authority"):
        split_instance(load_instance(tmp_path / "r"))


def test_every_instance_field_is_split(monkeypatch: pytest.MonkeyPatch) -> None:
    check_fields()  # raises when the Instance gains an array field split.py does not know
    import optimiser.pooling.split as split

    monkeypatch.setattr(split, "CHILD_FIELDS", split.CHILD_FIELDS[1:])  # one field forgotten
    with pytest.raises(TypeError, match="does not know how to split"):
        check_fields()
