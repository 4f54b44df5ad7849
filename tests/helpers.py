"""What the tests share: the project root, the read-only shared data folder and a sample deal."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _shared() -> Path:
    """``../shared`` beside the checkout (CI), or ``$PIPELINE_RULES_SHARED``, or /work/shared."""
    candidates = [os.environ.get("PIPELINE_RULES_SHARED", ""), str(ROOT.parent / "shared"),
                  "/work/shared"]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return ROOT.parent / "shared"


SHARED = _shared()


def meeting_deal(meeting: str, deal: str = "M-1") -> dict[str, Any]:
    """A deal of the reference ruleset in the meeting stage since Thursday 19 Nov 2026, with a
    meeting at ``meeting`` and an open task."""
    return {"id": deal, "stage": "meeting", "source": "cold", "owner": "ivan",
            "manager": "anna",
            "history": [{"stage": "find_dm", "at": "2026-11-12T10:00:00+03:00"},
                        {"stage": "qualification", "at": "2026-11-13T10:00:00+03:00"},
                        {"stage": "meeting", "at": "2026-11-19T10:00:00+03:00"}],
            "tasks": [{"id": "t", "due": "2026-11-25T10:00:00+03:00", "done": False}],
            "events": [{"type": "meeting", "at": meeting}]}
