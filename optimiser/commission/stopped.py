"""plan-capacity's last resort when its time limit runs out: its outputs, written anyway.

`CapacityGuard` holds what the command has (the commissioning data once read, the run
once planned) and a `Watchdog` that, when the limit and most of its grace are spent and
the command is still at work, writes plan.json, report.md and cost_curve.png from it:
the plan without its figure when the plan is made (drawing is the slow part), else no
recommendation, today's beds standing, and says so in each file.
"""

from __future__ import annotations

import datetime as dt
import json
import struct
import sys
import zlib
from pathlib import Path
from typing import Any

from ..atomic import atomic_folder
from ..deadline import Deadline, grace
from ..watchdog import Guarded, Watchdog

# seconds the fallback keeps for itself before limit + grace (the report and the JSON)
FALLBACK_SECONDS = 1.0
OUTPUTS = ("plan.json", "report.md", "cost_curve.png")
NO_FIGURE = ("The time limit came before the figure was drawn: cost_curve.png is blank. "
             "Run again with a longer --time-limit for the cost curve.")


def blank_png(width: int = 8, height: int = 8) -> bytes:
    """A white PNG image, made without a plotting library."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xff" * (3 * width) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def write_unplanned(out: str | Path, instance: str, data: Any, asked: int,
                    command: str) -> None:
    """The outputs of a run stopped before any scenario was solved: no recommendation,
    today's beds standing (plan.json says status "time_limit")."""
    why = ("the time limit came before any demand scenario was solved: no recommendation "
           "is made, and today's beds stand")
    today = {c: int(b) for c, b in data.current_beds.items()}
    plan = {"status": "time_limit", "stopped": why, "beds": today,
            "expected_weekly_cost": None, "interval": [None, None], "n_scenarios": 0,
            "scenarios_asked": asked,
            "run": {"instance": instance, "command": command,
                    "written": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}}
    beds = "; ".join(f"{c}: {b}" for c, b in today.items()) or "none"
    report = (f"# Block-booking recommendation\n\nInstance `{instance}`: 0 of {asked} demand "
              f"scenarios solved. Stopped: {why}.\n\nToday's beds: {beds}.\n\n{NO_FIGURE}\n")
    with atomic_folder(out, stale=OUTPUTS) as tmp:
        (tmp / "plan.json").write_text(json.dumps(plan, indent=1) + "\n", encoding="utf-8")
        (tmp / "report.md").write_text(report, encoding="utf-8")
        (tmp / "cost_curve.png").write_bytes(blank_png())


class CapacityGuard(Guarded):
    """The watchdog of one plan-capacity command (not `armed`: none runs, the process is
    not the command's to end)."""

    def __init__(self, deadline: Deadline, out: str, instance: str, asked: int,
                 armed: bool = True):
        self.out, self.instance, self.asked = out, instance, asked
        self.data: Any = None
        self.run: Any = None  # a CapacityRun, once planned
        self.command = ""
        self.armed = armed and deadline.limit is not None
        at = deadline.at() + grace(deadline.limit or 0.0) - FALLBACK_SECONDS
        self.watchdog = Watchdog(at, self.fallback)

    def loaded(self, data: Any) -> None:
        self.data = data

    def planned(self, run: Any) -> None:
        self.run = run

    def claim(self) -> None:
        """The command writes its own outputs now."""
        self.watchdog.claim()

    def fallback(self) -> bool:
        from .report import format_summary, write_outputs

        if self.run is not None:
            write_outputs(self.run, self.out, figure=blank_png(), note=NO_FIGURE)
            print(format_summary(self.run))
        elif self.data is not None:
            write_unplanned(self.out, self.instance, self.data, self.asked, self.command)
        else:
            return False  # nothing read yet: nothing to write
        print("stopped at the time limit: the outputs are written as they stand",
              file=sys.stderr)
        return True
