"""Tests of the instance reader: every malformed input is reported precisely, valid input
in its common real-world shapes (Excel, BOM, padded cells, `12.0`) loads the same.

The corpus in tests/malformed/ holds one small instance folder per defect and the exact
problem lines expected; new cases are picked up automatically, so adding a folder with
an expected.txt is all it takes to pin a new message.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import fields
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

try:
    import optimiser  # noqa: F401
except ModuleNotFoundError:  # the package is not installed: run from the source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from optimiser.instance import Instance, InstanceError  # noqa: E402
from optimiser.reader import load_instance  # noqa: E402

MALFORMED = Path(__file__).parent / "malformed"
CASES = sorted(p for p in MALFORMED.iterdir() if p.is_dir())

# The valid instance every corpus case was derived from (one defect each).
CHILDREN = """\
child_id,age,gender,home_lat,home_lon,sibling_group,faith,faith_match,needs,placement_types,max_distance_km,solo,current_placement,priority
C1,10,F,51.5,-0.1,,,none,,,,false,,1
C2,8,M,51.6,-0.2,G1,christian,preferred,disability,,50,false,P1,2
C3,6,M,51.6,-0.2,G1,,,,inhouse_foster;ifa_foster,,,,
C4,16,X,52.0,-1.0,,muslim,required,complex_behaviour,supported_accommodation;external_residential,,true,,3
"""  # noqa: E501
PLACEMENTS = """\
placement_id,provider,type,vacancies,age_min,age_max,genders,faith,needs_supported,ofsted_rating,lat,lon,weekly_cost,block_contract
P1,In-house fostering,inhouse_foster,2,0,17,,christian,disability,good,51.5,-0.1,500,
P2,Acme Fostering,ifa_foster,1,5,12,F;M,,,outstanding,51.7,-0.3,900.5,
P3,Homes Ltd,external_residential,2,12,17,,muslim,complex_behaviour,requires_improvement,52.1,-1.1,4000,BC1
P4,Steps Housing,supported_accommodation,1,16,17,F;M;X,muslim,complex_behaviour,not_rated,52.0,-1.0,1200,
"""  # noqa: E501
EXCLUSIONS = "child_id,placement_id,reason\nC1,P3,previous breakdown\n"
DISTANCES = "child_id,placement_id,km\nC1,P1,3.5\n"
POLICY = """\
[weights]
cost = 1.0
per_km = 5.0
faith_mismatch = 200.0
move = 500.0
unplaced = 100000.0
sibling_split = 1000.0

[rules]
min_ofsted_rating = "requires_improvement"
split_siblings = false
move_only_in_child_interest = false
"""  # stated: C2 lives at P1 while its sibling C3 waits, which under the rule (on by
# default) is a warning of its own (tests/test_format11.py); this base is about cells

# What the brief requires the corpus to cover; deleting one of these cases fails a test.
REQUIRED_CASES = {
    "current_placement_unknown", "exclusion_unknown_placement", "exclusion_unknown_child",
    "distance_unknown_placement", "distance_unknown_child", "duplicate_child_id",
    "duplicate_placement_id", "age_19", "age_negative", "age_word", "age_fraction", "lat_95",
    "lon_abc", "home_lat_empty", "vacancies_negative", "vacancies_fraction",
    "faith_required_no_faith", "faith_match_unknown", "placement_type_unknown",
    "placement_types_list_unknown", "ofsted_rating_unknown", "gender_unknown",
    "genders_list_unknown", "age_min_above_age_max", "weekly_cost_negative", "priority_zero",
    "solo_maybe", "max_distance_negative", "missing_column_weekly_cost",
    "missing_children_file", "policy_per_km_text", "policy_split_siblings_text",
    "policy_min_rating_unknown", "policy_invalid_toml", "several_problems",
}


def write_base(folder: Path, *, children: str = CHILDREN, placements: str = PLACEMENTS,
               encoding: str = "utf-8") -> Path:
    """Write the valid base instance (optionally with edited CSV text) into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "children.csv").write_bytes(children.encode(encoding))
    (folder / "placements.csv").write_bytes(placements.encode(encoding))
    (folder / "exclusions.csv").write_text(EXCLUSIONS, encoding="utf-8")
    (folder / "distances.csv").write_text(DISTANCES, encoding="utf-8")
    (folder / "policy.toml").write_text(POLICY, encoding="utf-8")
    return folder


def problem_lines(path: Path) -> list[str]:
    """The problems a load reports, as the CLI prints them; fails if the load succeeds."""
    with pytest.raises(InstanceError) as info:
        load_instance(path)
    return [str(p) for p in info.value.problems]


def assert_same_instance(a: Instance, b: Instance) -> None:
    """Every data field equal, arrays in value and dtype (source and warnings may differ)."""
    for f in fields(Instance):
        if f.name in ("source", "warnings"):
            continue
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype, f.name
            assert x.shape == y.shape, f.name
            assert np.array_equal(x, y), f"{f.name}: {x!r} != {y!r}"
        else:
            assert x == y, f.name


# --------------------------------------------------------------------------- corpus


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_malformed_case_reports_exactly_the_expected_problems(case: Path) -> None:
    expected = (case / "expected.txt").read_text(encoding="utf-8").splitlines()
    assert expected, f"{case.name}/expected.txt is empty"
    assert problem_lines(case) == expected


def test_corpus_covers_every_required_case() -> None:
    names = {c.name for c in CASES}
    assert names >= REQUIRED_CASES, sorted(REQUIRED_CASES - names)
    for case in CASES:
        assert (case / "expected.txt").is_file(), case.name


def test_base_instance_is_valid(tmp_path: Path) -> None:
    """The corpus is only meaningful if its base, without the defect, loads cleanly."""
    inst = load_instance(write_base(tmp_path / "base"))
    assert inst.warnings == ()
    assert list(inst.child_ids) == ["C1", "C2", "C3", "C4"]
    assert list(inst.age) == [10, 8, 6, 16]
    assert list(inst.current) == [-1, 0, -1, -1]
    assert list(inst.faith_match) == [0, 1, 0, 2]
    assert list(inst.solo) == [False, False, False, True]
    assert list(inst.priority) == [1, 2, 1, 3]
    assert list(inst.vacancies) == [2, 1, 2, 1]
    assert list(inst.weekly_cost) == [500.0, 900.5, 4000.0, 1200.0]
    assert list(inst.max_distance_km) == [np.inf, 50.0, np.inf, np.inf]
    assert list(inst.excl_child) == [0] and list(inst.excl_placement) == [2]
    assert list(inst.dist_km) == [3.5]


def test_several_problems_are_all_reported_in_one_error() -> None:
    lines = problem_lines(MALFORMED / "several_problems")
    files = {line.split(",")[0].split(":")[0] for line in lines}
    assert files == {"children.csv", "placements.csv", "exclusions.csv", "policy.toml"}
    assert len(lines) == 7


def test_problems_name_files_not_paths_and_never_echo_free_text() -> None:
    """A message names a file, row, column and the bad value only: free text such as an
    exclusion reason (which could hold a name) is never repeated, nor is a local path."""
    for case in CASES:
        for line in problem_lines(case):
            assert "previous breakdown" not in line
            assert str(MALFORMED) not in line


def test_exclusion_reason_is_not_echoed_in_an_error(tmp_path: Path) -> None:
    folder = write_base(tmp_path / "inst")
    (folder / "exclusions.csv").write_text(
        "child_id,placement_id,reason\nC1,P9,Jane Doe's uncle lives there\n", encoding="utf-8")
    assert problem_lines(folder) == [
        "exclusions.csv, row 2, column placement_id: unknown placement 'P9' "
        "(not in placements.csv)"]


def test_missing_instance_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    assert problem_lines(missing) == [f"{missing}: no such folder or file"]


# --------------------------------------------------------------------------- tolerance


def test_unknown_column_is_only_a_warning(tmp_path: Path) -> None:
    children = CHILDREN.replace("priority\n", "priority,colour\n", 1)
    children = "\n".join(line + ",blue" if line.startswith("C") else line
                         for line in children.splitlines()) + "\n"
    inst = load_instance(write_base(tmp_path / "inst", children=children))
    assert inst.warnings == ("children.csv: unknown column 'colour' ignored",)
    assert_same_instance(inst, load_instance(write_base(tmp_path / "base")))


def test_ids_that_look_like_missing_values_or_numbers_stay_text(tmp_path: Path) -> None:
    children = (CHILDREN.replace("C1,", "NA,").replace("C2,", "007,").replace("C3,", "None,")
                .replace(",P1,", ",nan,"))
    placements = PLACEMENTS.replace("P1,", "nan,").replace("P2,", "0012,")
    folder = write_base(tmp_path / "inst", children=children, placements=placements)
    (folder / "exclusions.csv").write_text(
        "child_id,placement_id,reason\n007,0012,\nNA,nan,\n", encoding="utf-8")
    (folder / "distances.csv").write_text("child_id,placement_id,km\nNone,0012,1.5\n",
                                          encoding="utf-8")
    inst = load_instance(folder)
    assert list(inst.child_ids) == ["NA", "007", "None", "C4"]
    assert list(inst.placement_ids) == ["nan", "0012", "P3", "P4"]
    assert list(inst.current) == [-1, 0, -1, -1]
    assert list(inst.excl_child) == [1, 0] and list(inst.excl_placement) == [1, 0]
    assert list(inst.dist_child) == [2] and list(inst.dist_placement) == [1]


def test_whitespace_around_values_and_headers_is_tolerated(tmp_path: Path) -> None:
    def pad(text: str) -> str:
        return "\n".join(", ".join(f" {v} " for v in line.split(","))
                         for line in text.splitlines()) + "\n"

    inst = load_instance(write_base(tmp_path / "inst", children=pad(CHILDREN),
                                    placements=pad(PLACEMENTS)))
    assert inst.warnings == ()
    assert_same_instance(inst, load_instance(write_base(tmp_path / "base")))


def test_utf8_bom_in_header_is_tolerated(tmp_path: Path) -> None:
    inst = load_instance(write_base(tmp_path / "inst", encoding="utf-8-sig"))
    assert (tmp_path / "inst" / "children.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert inst.warnings == ()
    assert_same_instance(inst, load_instance(write_base(tmp_path / "base")))


def test_excel_style_whole_numbers_are_accepted(tmp_path: Path) -> None:
    children = CHILDREN.replace("C1,10,", "C1,10.0,").replace(",P1,2\n", ",P1,2.0\n")
    placements = PLACEMENTS.replace("P1,In-house fostering,inhouse_foster,2,0,17,",
                                    "P1,In-house fostering,inhouse_foster,2.0,0.0,17.0,")
    inst = load_instance(write_base(tmp_path / "inst", children=children,
                                    placements=placements))
    assert_same_instance(inst, load_instance(write_base(tmp_path / "base")))


def test_codes_are_matched_case_insensitively(tmp_path: Path) -> None:
    children = CHILDREN.replace("C1,10,F,", "C1,10,f,").replace(",none,", ",None,")
    children = children.replace("inhouse_foster;ifa_foster", "Inhouse_Foster;IFA_foster")
    placements = PLACEMENTS.replace(",good,", ",Good,").replace(",F;M,", ",f;m,")
    placements = placements.replace(",ifa_foster,", ",IFA_Foster,")
    inst = load_instance(write_base(tmp_path / "inst", children=children,
                                    placements=placements))
    assert_same_instance(inst, load_instance(write_base(tmp_path / "base")))


def test_blank_lines_are_skipped(tmp_path: Path) -> None:
    lines = CHILDREN.splitlines()
    children = "\n".join([*lines[:3], "", " , ", *lines[3:], ""]) + "\n"
    inst = load_instance(write_base(tmp_path / "inst", children=children))
    assert_same_instance(inst, load_instance(write_base(tmp_path / "base")))


# --------------------------------------------------------------------------- Excel


def _frames(folder: Path) -> dict[str, pd.DataFrame]:
    """The base tables as pandas types them, so the workbook holds real numbers and
    booleans, as one saved from Excel would."""
    return {name: pd.read_csv(folder / f"{name}.csv")
            for name in ("children", "placements", "exclusions", "distances")}


def _write_workbook(path: Path, sheets: dict[str, pd.DataFrame]) -> Path:
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for name, frame in sheets.items():
            frame.to_excel(writer, sheet_name=name, index=False)
    return path


NON_DEFAULT_POLICY = {
    "weights.per_km": 7.5, "weights.move": 250, "rules.split_siblings": True,
    "rules.min_ofsted_rating": "good",
}


def test_xlsx_loads_to_the_same_arrays_as_csv(tmp_path: Path) -> None:
    folder = write_base(tmp_path / "csv")
    (folder / "policy.toml").write_text(
        "[weights]\nper_km = 7.5\nmove = 250\n\n"
        '[rules]\nsplit_siblings = true\nmin_ofsted_rating = "good"\n', encoding="utf-8")
    sheets = _frames(folder)
    sheets["Policy"] = pd.DataFrame({"key": list(NON_DEFAULT_POLICY),
                                     "value": list(NON_DEFAULT_POLICY.values())})
    book = _write_workbook(tmp_path / "instance.xlsx", sheets)

    from_csv, from_xlsx = load_instance(folder), load_instance(book)
    assert from_xlsx.warnings == ()
    assert from_xlsx.policy.weights.per_km == 7.5
    assert from_xlsx.policy.rules.split_siblings is True
    assert_same_instance(from_xlsx, from_csv)


def test_xlsx_defect_names_sheet_row_and_column(tmp_path: Path) -> None:
    sheets = _frames(write_base(tmp_path / "csv"))
    children = sheets["children"].astype(object)
    children.loc[2, "age"] = 19  # third child: sheet row 4 (header row 1)
    blank = pd.DataFrame([[None] * children.shape[1]], columns=children.columns)
    sheets["children"] = pd.concat([children.iloc[:1], blank, children.iloc[1:]])  # row 3 blank
    sheets["policy"] = pd.DataFrame({"key": ["weights.per_km"], "value": ["five"]})
    book = _write_workbook(tmp_path / "bad.xlsx", sheets)
    assert problem_lines(book) == [
        "children sheet, row 5, column age: 19 is out of range (0..17)",
        "policy sheet, row 2, column value: weights.per_km is 'five', but must be a number "
        "(pounds per week)",
    ]


def test_xlsx_text_ids_that_look_like_missing_values_or_numbers_survive(tmp_path: Path) -> None:
    children = CHILDREN.replace("C1,", "NA,").replace("C2,", "007,").replace(",P1,", ",nan,")
    placements = PLACEMENTS.replace("P1,", "nan,")
    folder = write_base(tmp_path / "csv", children=children, placements=placements)
    (folder / "exclusions.csv").write_text("child_id,placement_id,reason\n007,nan,\n",
                                           encoding="utf-8")
    (folder / "distances.csv").write_text("child_id,placement_id,km\nNA,nan,1.5\n",
                                          encoding="utf-8")
    sheets = {name: pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)
              for name in ("children", "placements", "exclusions", "distances")}
    sheets["policy"] = pd.DataFrame({"key": ["rules.move_only_in_child_interest"],
                                     "value": [False]})  # as the base's policy.toml says
    inst = load_instance(_write_workbook(tmp_path / "ids.xlsx", sheets))
    assert list(inst.child_ids) == ["NA", "007", "C3", "C4"]
    assert list(inst.placement_ids) == ["nan", "P2", "P3", "P4"]
    assert list(inst.current) == [-1, 0, -1, -1]
    assert_same_instance(inst, load_instance(folder))


def test_xlsx_missing_sheet(tmp_path: Path) -> None:
    sheets = _frames(write_base(tmp_path / "csv"))
    del sheets["placements"]
    book = _write_workbook(tmp_path / "bad.xlsx", sheets)
    assert problem_lines(book) == ["placements sheet: required sheet is missing"]


# --------------------------------------------------------------------------- CLI


def test_cli_solve_on_bad_input_exits_2_and_writes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from optimiser.cli import main

    case = tmp_path / "age_19"
    shutil.copytree(MALFORMED / "age_19", case)
    out = tmp_path / "out"
    assert main(["solve", str(case), "--out", str(out)]) == 2
    assert not out.exists()
    err = capsys.readouterr().err
    assert "children.csv, row 2, column age: 19 is out of range (0..17)" in err


def test_needs_tag_in_another_case_is_warned_and_matched_exactly(tmp_path: Path) -> None:
    # C2 needs "Disability"; the placements support "disability": a slip the analyst
    # must see, as the exact match (the spec) leaves C2 no placement that meets it
    children = CHILDREN.replace("preferred,disability,", "preferred,Disability,")
    inst = load_instance(write_base(tmp_path / "inst", children=children))
    (warning,) = inst.warnings
    assert warning.startswith("children.csv: needs tag 'Disability' (row(s) 3) is in no "
                              "placement's needs_supported, which has 'disability'")
    assert "Disability" in inst.need_tags and "disability" in inst.need_tags


def test_needs_tags_in_matching_case_give_no_warning(tmp_path: Path) -> None:
    assert load_instance(write_base(tmp_path / "inst")).warnings == ()
