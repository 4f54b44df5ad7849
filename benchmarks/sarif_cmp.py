"""Compare two SARIF logs with each rule's help text set aside: ``cmp`` for lint output whose
rule pages were rewritten on purpose.

    python benchmarks/sarif_cmp.py OLD.sarif NEW.sarif

Prints the rules whose help text differs; the exit status is 0 when everything else is equal,
1 when anything else differs (the first difference is printed), 2 on unreadable input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def help_aside(log: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The log without its rules' ``help``, and that help by rule id."""
    helps: dict[str, Any] = {}
    for run in log.get("runs", []):
        for rule in run.get("tool", {}).get("driver", {}).get("rules", []):
            helps[rule.get("id")] = rule.pop("help", None)
    return log, helps


def first_difference(old: Any, new: Any, path: str = "") -> str | None:
    """The JSON pointer of the first place where two JSON values differ, or None."""
    if type(old) is not type(new):
        return path or "/"
    if isinstance(old, dict):
        for key in sorted(set(old) | set(new)):
            if key not in old or key not in new:
                return f"{path}/{key}"
            found = first_difference(old[key], new[key], f"{path}/{key}")
            if found:
                return found
        return None
    if isinstance(old, list):
        for i, (a, b) in enumerate(zip(old, new, strict=False)):
            found = first_difference(a, b, f"{path}/{i}")
            if found:
                return found
        return None if len(old) == len(new) else f"{path}/{min(len(old), len(new))}"
    return None if old == new else path or "/"


def main() -> int:
    """Compare the two logs named on the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    args = parser.parse_args()
    try:
        old, old_help = help_aside(json.loads(args.old.read_text(encoding="utf-8")))
        new, new_help = help_aside(json.loads(args.new.read_text(encoding="utf-8")))
    except (OSError, ValueError) as err:
        print(f"sarif_cmp: {err}", file=sys.stderr)
        return 2
    changed = sorted(rule for rule in set(old_help) | set(new_help)
                     if old_help.get(rule) != new_help.get(rule))
    where = first_difference(old, new)
    if where is not None:
        print(f"differs beyond rule help at {where}")
        return 1
    print(f"equal with rule help aside; help differs for: {', '.join(changed) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
