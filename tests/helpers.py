"""Paths the tests share: the project root and the read-only shared data folder."""

from __future__ import annotations

import os
from pathlib import Path

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
