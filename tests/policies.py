"""Policies a test states, so that it never relies on a default it does not test.

`move_only_in_child_interest` is on by default (spec 1.1): a test of the run's own
limits (pins, `max_moves`, `min_saving`, chains) on moves made for cost turns it off.
"""

from __future__ import annotations

from pathlib import Path

RULE = "move_only_in_child_interest"
COST_MOVES = f"[rules]\n{RULE} = false\n"  # a policy.toml for builders.write_instance


def allow_cost_moves(folder: Path) -> Path:
    """Turn `move_only_in_child_interest` off in the folder's policy.toml (written if
    missing), keeping every other key: children already placed may move for cost alone."""
    policy = folder / "policy.toml"
    text = policy.read_text(encoding="utf-8") if policy.exists() else ""
    lines = [ln for ln in text.splitlines() if ln.split("=")[0].strip() != RULE]
    if "[rules]" not in (ln.strip() for ln in lines):
        lines.append("[rules]")
    at = [ln.strip() for ln in lines].index("[rules]")
    lines.insert(at + 1, f"{RULE} = false")
    policy.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder
