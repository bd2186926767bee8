"""requirements.txt against pyproject.toml: every dependency the project declares (the
runtime ones and those of each locked extra) is pinned, with hashes, at a version inside
its range, on every Python the lock covers. A dependency added to pyproject.toml, or a
range moved, without the lock made again fails here (the command is the lock's header).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.markers import Marker, default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.txt"
NOT_LOCKED = {"dev"}  # the developers' tools (ruff, mypy, stubs): not part of an install
PYTHONS = ("3.10", "3.11", "3.12", "3.13")  # Linux x86_64


@dataclass(frozen=True)
class Pin:
    name: str
    version: Version
    marker: Marker | None
    hashes: int


def parse_lock(text: str) -> tuple[list[Pin], set[str]]:
    """The pins of a pip requirements file (`name==version ; marker` and its `--hash`
    lines) and the extras named in its header's `--extra` options."""
    header = "\n".join(ln for ln in text.splitlines() if ln.startswith("#"))
    extras = set(re.findall(r"--extra[ =](\S+)", header))
    pins: list[Pin] = []
    for block in re.split(r"\n(?=\S)", text):
        first = block.split("\n", 1)[0].rstrip(" \\")
        if not first or first.startswith(("#", "-")):
            continue
        req, _, marker = first.partition(";")
        m = re.fullmatch(r"\s*([A-Za-z0-9._-]+)==(\S+)\s*", req)
        if m is None:
            raise ValueError(f"not an exact pin: {first!r}")
        pins.append(Pin(canonicalize_name(m.group(1)), Version(m.group(2)),
                        Marker(marker.strip()) if marker.strip() else None,
                        block.count("--hash=sha256:")))
    return pins, extras


def environment(python: str, extra: str = "") -> dict[str, str]:
    env = dict(default_environment())
    env.update(python_version=python, python_full_version=f"{python}.0", sys_platform="linux",
               platform_system="Linux", platform_machine="x86_64", os_name="posix",
               implementation_name="cpython", platform_python_implementation="CPython",
               extra=extra)
    return env


def declared(project: dict) -> list[tuple[Requirement, str]]:
    """(requirement, the extra that asks for it or "") for the runtime dependencies and
    every extra except NOT_LOCKED; an extra that names this project itself is skipped."""
    out = [(Requirement(r), "") for r in project.get("dependencies", [])]
    for extra, reqs in project.get("optional-dependencies", {}).items():
        if extra not in NOT_LOCKED:
            out += [(Requirement(r), extra) for r in reqs
                    if canonicalize_name(Requirement(r).name) != canonicalize_name(
                        project["name"])]
    return out


def disagreements(pyproject: dict, lock_text: str) -> list[str]:
    """Every way the lock fails pyproject.toml, in words (empty: they agree)."""
    project = pyproject["project"]
    pins, locked_extras = parse_lock(lock_text)
    wanted = set(project.get("optional-dependencies", {})) - NOT_LOCKED
    out = [f"the lock covers extras {sorted(locked_extras)}, pyproject has {sorted(wanted)}"
           ] if locked_extras != wanted else []
    out += [f"{p.name}=={p.version} has no hash" for p in pins if not p.hashes]
    for python in PYTHONS:
        here = [p for p in pins if p.marker is None or p.marker.evaluate(environment(python))]
        by_name: dict[str, list[Pin]] = {}
        for p in here:
            by_name.setdefault(p.name, []).append(p)
        out += [f"Python {python}: {name} pinned {len(ps)} times"
                for name, ps in by_name.items() if len(ps) > 1]
        for req, extra in declared(project):
            if req.marker is not None and not req.marker.evaluate(environment(python, extra)):
                continue
            got = by_name.get(canonicalize_name(req.name), [])
            if not got:
                out.append(f"Python {python}: {req} ({extra or 'dependencies'}) is not pinned")
            elif not req.specifier.contains(got[0].version, prereleases=True):
                out.append(f"Python {python}: {req} ({extra or 'dependencies'}) but the lock "
                           f"pins {got[0].version}")
    return out


def _pyproject() -> dict:
    with (ROOT / "pyproject.toml").open("rb") as fh:
        return tomllib.load(fh)


def test_the_lock_pins_every_declared_dependency_inside_its_range() -> None:
    problems = disagreements(_pyproject(), LOCK.read_text())
    assert not problems, "make the lock again (its header has the command):\n" + "\n".join(
        problems)


def test_the_lock_is_made_with_hashes_for_the_extras_tests_need() -> None:
    pins, extras = parse_lock(LOCK.read_text())
    assert {"test", "research"} <= extras
    assert "--generate-hashes" in LOCK.read_text().split("\n", 3)[1]
    assert len(pins) > 20 and all(p.hashes for p in pins)


LOCK_SAMPLE = """\
# uv pip compile pyproject.toml --extra test --generate-hashes -o requirements.txt
highspy==1.16.0 \\
    --hash=sha256:aa
numpy==2.2.6 ; python_full_version < '3.11' \\
    --hash=sha256:bb
numpy==2.4.6 ; python_full_version >= '3.11' \\
    --hash=sha256:cc
pytest==9.2.0 \\
    --hash=sha256:dd
tomli==2.5.0 ; python_full_version < '3.11' \\
    --hash=sha256:ee
"""


def _project(deps: list[str], test: list[str]) -> dict:
    return {"project": {"name": "placement-optimiser", "dependencies": deps,
                        "optional-dependencies": {"test": test, "dev": ["ruff"]}}}


def test_agreement_of_a_sample() -> None:
    """The check itself: a lock that fits its pyproject passes, on every Python."""
    deps = ["highspy>=1.15,<1.17", "numpy>=1.26", "tomli>=2.0; python_version < '3.11'"]
    assert disagreements(_project(deps, ["pytest>=8", "placement-optimiser[research]"]),
                         LOCK_SAMPLE) == []


@pytest.mark.parametrize(("deps", "test", "words"), [
    (["highspy>=1.17"], ["pytest>=8"], "highspy>=1.17 (dependencies) but the lock pins 1.16.0"),
    (["numpy>=2.3"], ["pytest>=8"], "Python 3.10: numpy>=2.3"),
    (["highspy"], ["pytest>=8", "hypothesis>=6"], "hypothesis>=6 (test) is not pinned"),
    (["scipy; python_version >= '3.12'"], ["pytest>=8"], "Python 3.12: scipy"),
])
def test_a_disagreement_is_named(deps: list[str], test: list[str], words: str) -> None:
    problems = disagreements(_project(deps, test), LOCK_SAMPLE)
    assert any(words in p for p in problems), problems


def test_an_extra_left_out_of_the_lock_is_named() -> None:
    project = _project(["highspy"], ["pytest"])
    project["project"]["optional-dependencies"]["research"] = ["numba>=0.60"]
    problems = disagreements(project, LOCK_SAMPLE)
    assert any("the lock covers extras ['test']" in p for p in problems), problems
    assert any("numba>=0.60 (research) is not pinned" in p for p in problems), problems


def test_a_pin_without_a_hash_is_named() -> None:
    text = LOCK_SAMPLE.replace("pytest==9.2.0 \\\n    --hash=sha256:dd\n", "pytest==9.2.0\n")
    assert "pytest==9.2.0 has no hash" in disagreements(_project(["highspy"], ["pytest"]), text)


PYLOCK = ROOT / "pylock.toml"


def pylock_pins(text: str) -> dict[str, set[str]]:
    """Each package of a PEP 751 lock with its versions (one per marker branch); every
    package must carry a hash for each of its files."""
    pins: dict[str, set[str]] = {}
    for pkg in tomllib.loads(text)["packages"]:
        files = list(pkg.get("wheels", [])) + ([pkg["sdist"]] if "sdist" in pkg else [])
        if not files or not all(f.get("hashes") for f in files):
            raise ValueError(f"{pkg['name']}=={pkg['version']} has a file without a hash")
        pins.setdefault(canonicalize_name(pkg["name"]), set()).add(pkg["version"])
    return pins


def test_the_pep751_lock_pins_what_requirements_txt_pins() -> None:
    """pylock.toml (PEP 751, for tools that read the standard lock) and requirements.txt
    (what pip installs from) are one resolution: the same packages at the same versions."""
    pins, _ = parse_lock(LOCK.read_text(encoding="utf-8"))
    txt: dict[str, set[str]] = {}
    for p in pins:
        txt.setdefault(p.name, set()).add(str(p.version))
    assert pylock_pins(PYLOCK.read_text(encoding="utf-8")) == txt


def test_a_pylock_file_without_a_hash_is_named() -> None:
    text = ('lock-version = "1.0"\n[[packages]]\nname = "x"\nversion = "1"\n'
            'wheels = [{ url = "https://example.org/x-1-py3-none-any.whl" }]\n')
    with pytest.raises(ValueError, match="x==1 has a file without a hash"):
        pylock_pins(text)
