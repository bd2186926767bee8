"""`placement match`'s last resort when its time limit runs out: an honest partial answer.

`MatchGuard` holds what the command has so far (the number of placements once the
instance is read, the referral once resolved, the ranking once made) and a `Watchdog`
that, when the limit and most of its grace are spent and the command is still at work
(reading, ranking, or formatting a long answer), prints what there is, marked
`"complete": false` with what stopped it, and ends the process with `EXIT_INCOMPLETE`.
Nothing in it is guessed: what was not ranked in time is said so.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

from .deadline import Deadline, grace
from .watchdog import Guarded, Watchdog

if TYPE_CHECKING:
    from .match import MatchResult, Referral

# the exit code of a match stopped by its time limit (a partial answer printed)
EXIT_INCOMPLETE = 4
# seconds the fallback keeps for itself before limit + grace (the partial answer is small)
FALLBACK_SECONDS = 0.5


class MatchGuard(Guarded):
    """The watchdog of one match command, printing JSON (`as_json`) or text. Not `armed`
    (or with no limit), no watchdog runs."""

    def __init__(self, deadline: Deadline, as_json: bool, armed: bool = True):
        self.deadline = deadline
        self.as_json = as_json
        self.placements: int | None = None
        self.referral: Referral | None = None
        self.result: MatchResult | None = None
        self.armed = armed and deadline.limit is not None
        at = deadline.at() + grace(deadline.limit or 0.0) - FALLBACK_SECONDS
        self.watchdog = Watchdog(at, self.fallback, exit_code=EXIT_INCOMPLETE)

    def claim(self) -> None:
        """The command prints its own (whole) answer now."""
        self.watchdog.claim()

    def fallback(self) -> bool:
        answer = self.partial()
        print(json.dumps(answer, indent=1) if self.as_json else partial_text(answer),
              flush=True)
        print("stopped at the time limit: the answer printed is not complete",
              file=sys.stderr)
        return True

    def partial(self) -> dict[str, Any]:
        """What the command has, as an answer marked incomplete."""
        res, ref = self.result, self.referral
        if res is not None:
            stage = "after the ranking, before the whole answer was written"
            ref = res.referral
        elif ref is not None:
            stage = "while the referral was being ranked"
        elif self.placements is not None:
            stage = "before the referral was found in the instance"
        else:
            stage = "before the instance was read"
        return {
            "complete": False,
            "stopped": f"the time limit ({self.deadline.limit:g} s) ran out {stage}",
            "referral": None if ref is None else {
                "child_ids": list(ref.child_ids), "sibling_group": ref.group,
                "note": ref.note},
            "placements": self.placements,
            "ranked_total": None if res is None else res.ranked_total,
            "ranked": [] if res is None else [r.to_dict() for r in res.ranked],
            "ruled_out_counts": None if res is None else dict(res.counts),
            "seconds": round(self.deadline.elapsed(), 4),
        }


def partial_text(answer: dict[str, Any]) -> str:
    """A partial answer for the officer: what stopped it, and the ranking if it was made."""
    lines = [f"INCOMPLETE: {answer['stopped']}."]
    ref = answer["referral"]
    if ref is not None:
        lines.append(f"Referral: {', '.join(ref['child_ids'])}"
                     + (f" (sibling group {ref['sibling_group']})" if ref["sibling_group"]
                        else ""))
    if answer["ranked_total"] is None:
        lines.append("No placement was ranked in time: run again with a longer "
                     "--time-limit (or none).")
        return "\n".join(lines)
    lines.append(f"{answer['ranked_total']:,} placement(s) can take the referral; best "
                 f"{len(answer['ranked'])} (the reasons for the rest were not written in "
                 f"time):")
    for i, r in enumerate(answer["ranked"], 1):
        lines.append(f"  {i:>3}. {r['placement_id']:<10} £{r['score']:,.0f}/week; "
                     f"{r['provider']}, {r['type']}, {r['ofsted_rating']}")
    return "\n".join(lines)
