"""A placement profile to recruit, and the instance with profiles added as placements.

The instance with profiles is written as a folder (the original files, and
`placements.csv` with one row per profile appended) and read back with the engine's own
reader, so a profile is checked and priced exactly as any placement would be.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from ..instance import Instance, InstanceError, Problem
from ..reader import load_instance

ID_PREFIX = "RECRUIT"
PROVIDER = "recruitment profile"
RATING = "not_rated"  # a new carer or home has no inspection yet
TODAYS_CHILDREN = ("children.csv", "exclusions.csv", "distances.csv")
PROFILE_COLUMNS = ("placement_id", "provider", "type", "vacancies", "age_min", "age_max",
                   "genders", "faith", "needs_supported", "ofsted_rating", "lat", "lon",
                   "weekly_cost")


@dataclass(frozen=True)
class Profile:
    """A placement the authority could recruit or commission (one row of recruit.csv)."""

    type: str
    authority: str  # the area: the instance's authority where it names one, else district
    lat: float
    lon: float
    age_min: int
    age_max: int
    genders: str  # `;` list, "" = any
    needs_supported: str  # `;` list
    faith: str
    beds: int
    weekly_cost: float

    def describe(self) -> str:
        """The profile in plain words."""
        who = f"aged {self.age_min} to {self.age_max}"
        if self.genders:
            who += f" ({self.genders.replace(';', ', ')})"
        extra = []
        if self.needs_supported:
            extra.append("able to meet " + self.needs_supported.replace(";", ", ")
                         .replace("_", " "))
        if self.faith:
            extra.append(f"of the {self.faith} faith")
        beds = f"{self.beds} bed{'s' if self.beds != 1 else ''}"
        text = (f"{self.type.replace('_', ' ')} in {self.authority}, {beds} for children "
                f"{who}")
        return text + (", " + " and ".join(extra) if extra else "")


class Extender:
    """Builds the instance of a folder with profiles added as placements."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise InstanceError([Problem(str(self.folder), None, None,
                                         "sufficiency reads an instance folder (save a "
                                         "workbook's sheets as CSV files in one)")])
        try:
            self.placements = pd.read_csv(self.folder / "placements.csv", dtype=str,
                                          keep_default_na=False)
        except (OSError, ValueError):
            load_instance(self.folder)  # the reader names every problem, file, row, column
            raise
        taken = set(self.placements["placement_id"])
        self.ids = [f"{ID_PREFIX}{i:04d}" for i in range(1, 100_000)
                    if f"{ID_PREFIX}{i:04d}" not in taken]

    def rows(self, profiles: Sequence[Profile]) -> pd.DataFrame:
        out = []
        for pid, pr in zip(self.ids, profiles, strict=False):
            row = {c: "" for c in self.placements.columns}
            row.update({
                "placement_id": pid, "provider": PROVIDER, "type": pr.type,
                "vacancies": str(pr.beds), "age_min": str(pr.age_min),
                "age_max": str(pr.age_max), "genders": pr.genders, "faith": pr.faith,
                "needs_supported": pr.needs_supported, "ofsted_rating": RATING,
                "lat": repr(float(pr.lat)), "lon": repr(float(pr.lon)),
                "weekly_cost": repr(float(pr.weekly_cost))})
            if "authority" in row and "authority" in self.placements.columns:
                row["authority"] = pr.authority
            out.append(row)
        columns = list(self.placements.columns)
        columns += [c for c in PROFILE_COLUMNS if c not in columns]
        return pd.DataFrame(out, columns=columns).fillna("")

    def instance(self, profiles: Sequence[Profile],
                 children: pd.DataFrame | None = None) -> Instance:
        """The instance with `profiles` added (placement ids RECRUIT0001, ...).

        `children`: another children.csv table (a demand scenario); then the files that
        name today's children (exclusions, distances) are left out, and so are the
        placements reserved for one of them."""
        tmp = Path(tempfile.mkdtemp(prefix="sufficiency-"))
        own = self.placements
        try:
            for f in self.folder.iterdir():
                if f.is_file() and f.name not in ("placements.csv", *(
                        TODAYS_CHILDREN if children is not None else ())):
                    shutil.copyfile(f, tmp / f.name)
            if children is not None:
                children.to_csv(tmp / "children.csv", index=False)
                if "reserved_for" in own.columns:
                    own = own[own["reserved_for"].str.strip() == ""]
            table = pd.concat([own, self.rows(profiles)], ignore_index=True)
            table = table.fillna("")  # a column the instance lacks is empty in its rows
            table.to_csv(tmp / "placements.csv", index=False)
            return load_instance(tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def profile_dict(p: Profile) -> dict[str, object]:
    return asdict(p)
