"""Children's homes: in which authority each is, and their places and Ofsted ratings taken
from Ofsted's real list of homes when `shared/data` is given."""

from __future__ import annotations

import numpy as np
import pandas as pd

from optimiser import calibration as cal
from optimiser.objective import haversine_km

from .codes import RATING_INDEX
from .sampling import distribution
from .world import World


def home_authorities(rng: np.random.Generator, world: World, origin: np.ndarray,
                     weights: np.ndarray, local_share: float) -> np.ndarray:
    """Authority where each home is: in proportion to the homes there, decaying with
    distance from the placing authority (a local and a national component)."""
    uniq, inv = np.unique(origin, return_inverse=True)
    d = haversine_km(world.lat[uniq][:, None], world.lon[uniq][:, None],
                     world.lat[None, :], world.lon[None, :])
    local = weights[None, :] * np.exp(-d / cal.HOMES_LOCAL_DECAY_KM)
    national = weights[None, :] * np.exp(-d / cal.HOMES_NATIONAL_DECAY_KM)
    local /= np.maximum(local.sum(axis=1, keepdims=True), 1e-300)
    national /= np.maximum(national.sum(axis=1, keepdims=True), 1e-300)
    p = local_share * local + (1 - local_share) * national
    cdf = np.cumsum(p, axis=1)
    cdf /= cdf[:, -1:]
    u = rng.random(len(origin))
    rows = cdf[inv]
    return np.minimum((rows < u[:, None]).sum(axis=1), len(world.code) - 1)


def real_secure_homes(rng: np.random.Generator, rows: pd.DataFrame,
                      k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`k` of the real secure homes (anywhere in England): authority, places, rating."""
    pool = rows[rows["secure"]]
    pick = rng.integers(0, len(pool), size=k)
    return (pool["auth"].to_numpy()[pick], pool["places"].to_numpy()[pick],
            pool["rating"].to_numpy()[pick])


def real_homes(rng: np.random.Generator, rows: pd.DataFrame, inhouse: bool,
               where: np.ndarray, n_auth: int, places: np.ndarray,
               rate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Places and rating of a real home (run by an authority or not, as `inhouse` says) in
    each authority `where`; the drawn `places` and `rate` where it has none."""
    pool = rows[~rows["secure"] & (rows["local_authority_run"] == inhouse)]
    if not len(pool):
        return places, rate
    pick, found = _pick_row(rng, pool["auth"].to_numpy(), where, n_auth)
    places = np.where(found, pool["places"].to_numpy()[pick], places)
    # Homes opened since the list was made are not rated yet (OFSTED-JL).
    new = rng.random(len(where)) < _new_home_share()
    rate = np.where(found, np.where(new, RATING_INDEX["not_rated"],
                                    pool["rating"].to_numpy()[pick]), rate)
    return places, rate


def _new_home_share() -> float:
    _, p = distribution(cal.HOME_RATINGS)
    return float(p[[r for r, _ in cal.HOME_RATINGS].index("not_rated")])


def _pick_row(rng: np.random.Generator, row_auth: np.ndarray, want: np.ndarray,
              n_auth: int) -> tuple[np.ndarray, np.ndarray]:
    """A random row (of rows sorted by authority) in each wanted authority, if any."""
    first = np.searchsorted(row_auth, np.arange(n_auth))
    count = np.bincount(row_auth, minlength=n_auth)
    found = count[want] > 0
    pick = first[want] + np.floor(rng.random(len(want)) * count[want]).astype(np.int64)
    return np.where(found, np.minimum(pick, max(len(row_auth) - 1, 0)), 0), found
