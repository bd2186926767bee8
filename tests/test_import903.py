"""`placement import-903`: children.csv from a synthetic SSDA903 return (ids only)."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pandas as pd
import pytest
from builders import write_instance

from optimiser import load_instance
from optimiser.import903 import OUTCODES, data_dir, import_903, write_import
from optimiser.instance import InstanceError
from optimiser.variants import write_903_return

AS_AT = dt.date(2026, 3, 31)
TYPES = ("kinship_foster", "inhouse_foster", "external_residential", "secure",
         "supported_accommodation")

pytestmark = pytest.mark.skipif(not (data_dir() / OUTCODES).exists(),
                                reason="shared/data not found: set PLACEMENT_DATA_DIR")


def _instance(folder: Path, n: int = 30, seed: int = 3) -> Path:
    """Children across England, most placed, in placements that all have a URN."""
    rnd = random.Random(seed)
    places = [{"placement_id": f"P{j}", "type": TYPES[j % len(TYPES)], "vacancies": 3,
               "lat": 51.0 + rnd.random() * 2, "lon": -2.5 + rnd.random() * 2,
               "urn": f"SC{100000 + j}", "reserved_for": "" if j % len(TYPES) else f"C{j}"}
              for j in range(12)]
    kids = []
    for i in range(n):
        p = rnd.randrange(len(places) + 4)
        place = places[p] if p < len(places) else None
        age = 16 if place and place["type"] == "supported_accommodation" else rnd.randrange(18)
        kids.append({"child_id": f"C{i}", "age": age, "gender": rnd.choice("FM"),
                     "home_lat": 51.0 + rnd.random() * 2, "home_lon": -2.5 + rnd.random() * 2,
                     "current_placement": place["placement_id"] if place else ""})
    return write_instance(folder, kids, places)


def test_a_return_written_from_an_instance_reads_back_the_same_children(tmp_path: Path) -> None:
    inst_dir = _instance(tmp_path / "inst")
    ret = write_903_return(inst_dir, tmp_path / "903", AS_AT, seed=1, authority="E08000025")
    got = import_903(ret / "header.csv", ret / "episodes.csv", inst_dir / "placements.csv",
                     AS_AT)
    want = pd.read_csv(inst_dir / "children.csv", dtype=str, keep_default_na=False)
    got_c = got.children.set_index("child_id")
    assert sorted(got_c.index) == sorted(want["child_id"])  # the children who left care: out
    for rec in want.to_dict("records"):
        row = got_c.loc[rec["child_id"]]
        assert (int(row["age"]), row["gender"], row["current_placement"]) == (
            int(rec["age"]), rec["gender"], rec["current_placement"]), rec["child_id"]
        assert row["authority"] == "E08000025"
        # the home is its postcode district's centroid: within a district's reach
        assert abs(float(row["home_lat"]) - float(rec["home_lat"])) < 0.3
    assert set(got.to_complete["child_id"]) == set(want["child_id"])
    out = write_import(got, inst_dir / "placements.csv", tmp_path / "imported")
    inst = load_instance(out)
    assert inst.n_children == len(want) and inst.format_11


def test_without_a_urn_the_placement_is_found_by_postcode_and_type(tmp_path: Path) -> None:
    places = [{"placement_id": "P1", "type": "secure", "lat": 52.48, "lon": -1.90},
              {"placement_id": "P2", "type": "inhouse_foster", "lat": 52.48, "lon": -1.90}]
    kids = [{"child_id": "C1", "age": 15, "current_placement": "P1", "home_lat": 52.4,
             "home_lon": -1.9},
            {"child_id": "C2", "age": 7, "current_placement": "P2", "home_lat": 52.4,
             "home_lon": -1.9}]
    inst_dir = write_instance(tmp_path / "i", kids, places)
    ret = write_903_return(inst_dir, tmp_path / "903", AS_AT, left_care=0)
    got = import_903(ret / "header.csv", ret / "episodes.csv", inst_dir / "placements.csv",
                     AS_AT).children.set_index("child_id")
    assert got.loc["C1", "current_placement"] == "P1"  # K1 is secure, P2 is not
    assert got.loc["C2", "current_placement"] == "P2"  # U4 is a foster carer


def _return(folder: Path, header: str, episodes: str) -> tuple[Path, Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "header.csv").write_text(header)
    (folder / "episodes.csv").write_text(episodes)
    (folder / "placements.csv").write_text(
        "placement_id,provider,type,vacancies,age_min,age_max,lat,lon,weekly_cost\n"
        "P1,prov,inhouse_foster,1,0,17,52.48,-1.9,500\n")
    return folder / "header.csv", folder / "episodes.csv", folder / "placements.csv"


def test_malformed_returns_name_every_problem_by_file_row_and_column(tmp_path: Path) -> None:
    h, e, p = _return(
        tmp_path,
        "CHILD,SEX,DOB\nA1,3,01/02/2015\nA2,1,31/02/2015\nA3,2,01/01/2001\nA1,1,01/01/2015\n",
        "CHILD,DECOM,DEC,PLACE,HOME_POST\nA1,01/01/2025,,U4,ZZ99 9ZZ\nA2,2025-13-01,,U4,B15 2TT\n"
        "A3,01/01/2025,,U4,B15 2TT\nA9,01/01/2025,,U4,B15 2TT\n")
    with pytest.raises(InstanceError) as err:
        import_903(h, e, p, AS_AT)
    said = {str(x) for x in err.value.problems}
    assert said == {
        "header.csv, row 2, column SEX: '3' is not a 903 sex code (1 male, 2 female)",
        "header.csv, row 4, column DOB: gives age 25 on 2026-03-31; a child in care is 0 to 17",
        "header.csv, row 5, column CHILD: 'A1' is given twice",
        "episodes.csv, row 2, column HOME_POST: 'ZZ99 9ZZ' is no known postcode district",
        "episodes.csv, row 3, column DECOM: '2025-13-01' is not a date (dd/mm/yyyy)",
        "episodes.csv, row 5, column CHILD: 'A9' has no row in the header",
    }


def test_a_return_without_required_columns_says_which(tmp_path: Path) -> None:
    h, e, p = _return(tmp_path, "CHILD,DOB\nA1,01/01/2015\n", "CHILD,DECOM\nA1,01/01/2025\n")
    with pytest.raises(InstanceError) as err:
        import_903(h, e, p, AS_AT)
    assert {str(x) for x in err.value.problems} == {
        "header.csv, row 1, column SEX: required column is missing",
        "episodes.csv, row 1, column PLACE: required column is missing",
        "episodes.csv, row 1, column HOME_POST: required column is missing",
    }


def test_the_command_reads_a_workbook_with_both_sheets(tmp_path: Path) -> None:
    from optimiser.cli import main

    inst_dir = _instance(tmp_path / "inst", n=8)
    ret = write_903_return(inst_dir, tmp_path / "903", AS_AT, seed=2)
    book = tmp_path / "return.xlsx"
    with pd.ExcelWriter(book) as xl:
        for sheet in ("header", "episodes"):
            pd.read_csv(ret / f"{sheet}.csv", dtype=str, keep_default_na=False).to_excel(
                xl, sheet_name=sheet, index=False)
    out = tmp_path / "imported"
    code = main(["import-903", "--header", str(book), "--as-at", AS_AT.isoformat(),
                 "--placements", str(inst_dir / "placements.csv"), "--out", str(out)])
    assert code == 0
    got = pd.read_csv(out / "children.csv", dtype=str, keep_default_na=False)
    want = pd.read_csv(inst_dir / "children.csv", dtype=str, keep_default_na=False)
    assert sorted(got["child_id"]) == sorted(want["child_id"])
    assert main(["import-903", "--header", str(book), "--as-at", "31/03/2026",
                 "--placements", str(inst_dir / "placements.csv"), "--out", str(out)]) == 2
