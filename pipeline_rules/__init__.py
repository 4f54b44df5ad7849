"""pipeline-rules: lint, enforce and evaluate sales-pipeline regulations written in YAML."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
