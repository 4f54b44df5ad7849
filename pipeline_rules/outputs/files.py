"""Output files that are complete or absent: written under a temporary name in the same
directory and renamed over the output when complete.

A temporary is named ``.<output name>.<pid>-<random>.tmp`` — hidden, beside its output, with the
writing process's id — so a run killed mid-write (``kill -9``, a power cut) leaves no file at
the output's name, only a temporary that the next run over the same output recognises and
removes (:func:`remove_stale`), unless the process that named it is still running.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: The suffix of every temporary output.
TEMPORARY_SUFFIX = ".tmp"


def temporary_name(target: Path) -> Path:
    """A fresh temporary name for ``target``, beside it."""
    return target.with_name(f".{target.name}.{os.getpid()}-{uuid.uuid4().hex}{TEMPORARY_SUFFIX}")


def _pattern(target: Path) -> re.Pattern[str]:
    return re.compile(rf"^\.{re.escape(target.name)}\.(\d+)-[0-9a-f]{{32}}"
                      rf"{re.escape(TEMPORARY_SUFFIX)}$")


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: running
        return True
    return True


def remove_stale(target: str | Path) -> int:
    """Remove the temporaries of ``target`` left by writers that are no longer running; how
    many files."""
    path = Path(target)
    pattern = _pattern(path)
    removed = 0
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return 0
    for entry in entries:
        found = pattern.match(entry.name)
        if found and not _running(int(found.group(1))):
            try:
                os.unlink(entry.path)
                removed += 1
            except FileNotFoundError:
                continue
    return removed


@contextmanager
def atomic_output(path: str) -> Iterator[str]:
    """A temporary name next to ``path`` to write to; renamed to ``path`` when the block ends
    without error (so ``path`` is either complete or absent), removed otherwise. The stale
    temporaries of earlier, killed writers of ``path`` are removed first."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(target)
    temporary = temporary_name(target)
    try:
        yield str(temporary)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def remove_temporaries(output: str) -> int:
    """Remove every temporary :func:`atomic_output` left under the directory ``output`` (a
    Dask run's, whose writers are on other machines); how many files."""
    removed = 0
    for path in Path(output).rglob(f".*{TEMPORARY_SUFFIX}"):
        path.unlink(missing_ok=True)
        removed += 1
    return removed


__all__ = ["TEMPORARY_SUFFIX", "atomic_output", "remove_stale", "remove_temporaries",
           "temporary_name"]
