"""Compare a solve's summary.json with the instance's golden optimum (instances/golden.json).

    python benchmarks/check_golden.py instances/demo out/demo

Exit 0 when the status is the golden one and the objective equals the golden value to
the penny; exit 1 (and say why) otherwise, or when the instance has no golden value.
The golden values come from tests/reference_model.py, an exact model that shares no
code with the engine, so a wrong optimum that passes `placement check` still fails here.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

GOLDEN = Path(__file__).resolve().parent.parent / "instances" / "golden.json"
PENNY = 0.005  # the objective rounds to the golden value's pennies


def compare(instance: str | Path, out: str | Path, golden_file: Path = GOLDEN) -> list[str]:
    """What differs between the solve in `out` and the golden value of `instance`."""
    name = Path(instance).resolve().name
    golden = json.loads(golden_file.read_text())
    if name not in golden:
        return [f"{name}: no golden value in {golden_file}"]
    want = golden[name]
    got = json.loads((Path(out) / "summary.json").read_text())
    problems = []
    if got.get("status") != want["status"]:
        problems.append(f"status {got.get('status')!r}, golden {want['status']!r}")
    objective = float(got.get("objective", float("nan")))
    if not abs(objective - float(want["objective"])) <= PENNY:
        problems.append(f"objective £{objective:,.2f}, golden £{want['objective']:,.2f}")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("instance", help="instance folder (its name is the golden key)")
    ap.add_argument("out", help="output folder of `placement solve` (summary.json)")
    ap.add_argument("--golden", type=Path, default=GOLDEN)
    args = ap.parse_args(argv)
    problems = compare(args.instance, args.out, args.golden)
    name = Path(args.instance).resolve().name
    if problems:
        print(f"GOLDEN MISMATCH {name}: " + "; ".join(problems), file=sys.stderr)
        return 1
    print(f"golden OK {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
