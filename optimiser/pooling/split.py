"""Who owns what in a regional co-operative, and the instance of any coalition.

The players are the authorities named in `children.authority` (format 1.1). A child
belongs to its responsible authority. A placement belongs to one player, decided in
this order:

1. a placement reserved for children (`reserved_for`) all of one player belongs to it
   (a kinship carer is approved by the child's authority, wherever it lives);
2. else the player its `authority` column names (where it lies);
3. else (outside every member, or not given) the player whose children's homes are
   nearest on average (their centroid): the member most likely to commission it.

The instance of a coalition S holds the children of S and the placements S owns, with
all their vacancies; and, so that nobody is evicted, every placement of a non-member
where a child of S lives now, with no vacancy (only S's residents may stay). Disjoint
coalitions therefore never compete for a bed: the union of their plans is a plan of
their union with the sum of their objectives, which is why the pooled optimum is never
above the sum of the separate ones (see `optimiser.pooling.coalition`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..instance import Instance
from ..objective import haversine_km

# Instance fields indexed by child, by placement, and the (child, placement) relations;
# every other array field is unknown here and stops the split (see `check_fields`).
CHILD_FIELDS = ("child_ids", "age", "gender", "home_lat", "home_lon", "sibling_group",
                "faith", "faith_match", "needs", "types_allowed", "max_distance_km", "solo",
                "current", "priority", "pinned", "placed_since", "authority")
PLACEMENT_FIELDS = ("placement_ids", "provider", "ptype", "vacancies", "age_min", "age_max",
                    "genders_allowed", "pfaith", "needs_supported", "rating", "lat", "lon",
                    "weekly_cost", "block_contract", "on_hold", "available_from",
                    "pauthority", "reserved_for", "urn")
PAIR_FIELDS = (("excl_child", "excl_placement", ("excl_reason",)),
               ("dist_child", "dist_placement", ("dist_km",)),
               ("reserve_child", "reserve_placement", ()))
SHARED_ARRAYS = ("adjoining",)  # indexed by authority code: kept whole


class PoolingError(ValueError):
    """The instance cannot be split into authorities (said in words)."""


def check_fields() -> None:
    """Fail loudly when the Instance gained an array field this module does not split."""
    known = set(CHILD_FIELDS) | set(PLACEMENT_FIELDS) | set(SHARED_ARRAYS)
    for c, p, extra in PAIR_FIELDS:
        known |= {c, p, *extra}
    scalar_like = {"source", "policy", "faiths", "need_tags", "warnings", "reallocation",
                   "authorities", "authority_labels", "format_11"}
    unknown = [f.name for f in dataclasses.fields(Instance)
               if f.name not in known and f.name not in scalar_like]
    if unknown:
        raise TypeError(f"optimiser.pooling.split does not know how to split "
                        f"Instance fields {unknown}: add each to the field lists above")


@dataclass(frozen=True, eq=False)
class Split:
    """The players of an instance and who owns each child and placement."""

    instance: Instance
    names: tuple[str, ...]  # players, as read (lower case), sorted
    child_owner: np.ndarray  # int (n): player index
    placement_owner: np.ndarray  # int (m): player index

    @property
    def n_players(self) -> int:
        return len(self.names)

    @property
    def grand(self) -> int:
        """Bit mask of the grand coalition."""
        return (1 << self.n_players) - 1

    def members(self, mask: int) -> list[int]:
        return [i for i in range(self.n_players) if mask >> i & 1]

    @cached_property
    def labels(self) -> tuple[str, ...]:
        """The players as first written in the files (for people; `names` are the keys)."""
        inst = self.instance
        return tuple(inst.authority_label(inst.authorities.index(n)) for n in self.names)

    def label(self, mask: int) -> str:
        return "+".join(self.labels[i] for i in self.members(mask)) or "none"


def split_instance(inst: Instance) -> Split:
    """The players of `inst` and the owner of every child and placement (module doc)."""
    check_fields()
    assert inst.authority is not None and inst.pauthority is not None
    if inst.n_children == 0:
        raise PoolingError("no children: nothing to pool")
    missing = np.flatnonzero(inst.authority < 0)
    if len(missing):
        raise PoolingError(f"{len(missing)} child(ren) without an authority (e.g. "
                           f"{inst.child_ids[missing[0]]}): pooling needs children.authority")
    if inst.reallocation.max_moves is not None:
        raise PoolingError("a budget of moves (max_moves) is shared by the whole instance: "
                           "coalitions cannot be priced apart with it")
    codes = np.unique(inst.authority)
    names = tuple(inst.authorities[int(c)] for c in codes)
    player_of_code = np.full(max(len(inst.authorities), 1), -1, dtype=np.int64)
    player_of_code[codes] = np.arange(len(codes))
    child_owner = player_of_code[inst.authority]
    groups = inst.sibling_group
    for g in np.unique(groups[groups != ""]):
        if len(np.unique(child_owner[groups == g])) > 1:
            raise PoolingError(f"sibling group {g} spans several authorities")
    return Split(inst, names, child_owner, _placement_owner(inst, child_owner,
                                                            player_of_code, len(codes)))


def _placement_owner(inst: Instance, child_owner: np.ndarray, player_of_code: np.ndarray,
                     n_players: int) -> np.ndarray:
    assert inst.pauthority is not None and inst.reserve_child is not None
    m = inst.n_placements
    where = np.where(inst.pauthority >= 0, player_of_code[np.maximum(inst.pauthority, 0)], -1)
    owner = where.astype(np.int64)
    lat = np.array([inst.home_lat[child_owner == k].mean() for k in range(n_players)])
    lon = np.array([inst.home_lon[child_owner == k].mean() for k in range(n_players)])
    out = np.flatnonzero(owner < 0)
    if len(out):
        d = haversine_km(inst.lat[out][:, None], inst.lon[out][:, None], lat[None, :],
                         lon[None, :])
        owner[out] = np.argmin(d, axis=1)
    if len(inst.reserve_child):
        rc, rp = inst.reserve_child, inst.reserve_placement
        assert rp is not None
        lo = np.full(m, n_players, dtype=np.int64)
        hi = np.full(m, -1, dtype=np.int64)
        np.minimum.at(lo, rp, child_owner[rc])
        np.maximum.at(hi, rp, child_owner[rc])
        one = (lo == hi) & (hi >= 0)
        owner[one] = hi[one]
    return owner


def coalition_instance(split: Split, mask: int) -> tuple[Instance, np.ndarray, np.ndarray]:
    """The instance of coalition `mask` (module doc), with the original indices of its
    children and placements."""
    inst = split.instance
    members = np.array(split.members(mask), dtype=np.int64)
    kids = np.flatnonzero(np.isin(split.child_owner, members))
    own = np.isin(split.placement_owner, members)
    cur = inst.current[kids]
    guest = np.zeros(inst.n_placements, dtype=bool)
    guest[cur[cur >= 0]] = True
    guest &= ~own
    places = np.flatnonzero(own | guest)
    new_p = np.full(inst.n_placements, -1, dtype=np.int64)
    new_p[places] = np.arange(len(places))
    new_c = np.full(inst.n_children, -1, dtype=np.int64)
    new_c[kids] = np.arange(len(kids))
    fields: dict[str, object] = {}
    for name in CHILD_FIELDS:
        fields[name] = np.asarray(getattr(inst, name))[kids]
    for name in PLACEMENT_FIELDS:
        fields[name] = np.asarray(getattr(inst, name))[places]
    fields["current"] = np.where(cur >= 0, new_p[np.maximum(cur, 0)], -1).astype(np.int32)
    fields["vacancies"] = np.where(guest[places], 0, inst.vacancies[places]).astype(
        inst.vacancies.dtype)
    for c_name, p_name, extra in PAIR_FIELDS:
        c, p = np.asarray(getattr(inst, c_name)), np.asarray(getattr(inst, p_name))
        keep = (new_c[c] >= 0) & (new_p[p] >= 0) if len(c) else np.zeros(0, dtype=bool)
        fields[c_name] = new_c[c[keep]].astype(c.dtype) if len(c) else c
        fields[p_name] = new_p[p[keep]].astype(p.dtype) if len(c) else p
        for e in extra:
            fields[e] = np.asarray(getattr(inst, e))[keep] if len(c) else getattr(inst, e)
    prev = inst.reallocation.previous
    realloc = inst.reallocation
    if prev is not None:
        prev = np.asarray(prev)[kids]
        prev = np.where(prev >= 0, new_p[np.maximum(prev, 0)], prev)
        prev = np.where((np.asarray(inst.reallocation.previous)[kids] >= 0) & (prev < 0),
                        -1, prev)
        realloc = dataclasses.replace(realloc, previous=prev)
    sub = dataclasses.replace(inst, reallocation=realloc, **fields)  # type: ignore[arg-type]
    return sub, kids, places
