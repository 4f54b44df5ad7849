"""Outputs that cannot lie: a file is complete or absent (a killed run leaves only a temporary,
which the next run over the same output removes), and a write that fails — a full disk, a
reader that went away — is one line and a non-zero exit, never a traceback, whichever command
and format wrote it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import ROOT

from pipeline_rules.cli.common import EXIT_CLOSED_PIPE, EXIT_USAGE
from pipeline_rules.outputs.files import atomic_output, remove_stale, temporary_name

B2B = str(ROOT / "rulesets" / "b2b_sales.yaml")
DEALS = ROOT / "examples" / "deals.jsonl"
NOW = ("--now", "2026-11-20T09:05:00+03:00")
FORK = str(ROOT / "tests" / "fixtures" / "lint" / "parallel-stages" / "bad-fork.yaml")

#: Every command and format that writes to stdout.
COMMANDS = {
    "evaluate-jsonl": ["evaluate", B2B, str(DEALS), *NOW, "--format", "jsonl"],
    "evaluate-json": ["evaluate", B2B, str(DEALS), *NOW, "--format", "json"],
    "evaluate-table": ["evaluate", B2B, str(DEALS), *NOW, "--format", "table"],
    "lint-text": ["lint", "--color", "never", FORK],
    "lint-json": ["lint", "--format", "json", FORK],
    "lint-sarif": ["lint", "--format", "sarif", FORK],
    "lint-github": ["lint", "--format", "github", FORK],
    "graph-mermaid": ["graph", B2B],
    "graph-dot": ["graph", B2B, "--format", "dot"],
    "analyze-text": ["analyze", B2B, str(DEALS), *NOW],
    "analyze-json": ["analyze", B2B, str(DEALS), *NOW, "--format", "json"],
}


def _run(args: list[str], stdout: int, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipeline_rules", *args], check=False,
                          stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=120, cwd=cwd)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_full_disk_is_one_line_and_exit_2(name: str) -> None:
    with open("/dev/full", "wb") as full:
        run = _run(COMMANDS[name], full.fileno())
    assert run.returncode == EXIT_USAGE, run.stderr
    assert run.stderr.splitlines() == [
        "pipeline-rules: error: cannot write the output: No space left on device"]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_reader_gone_away_ends_the_command_quietly(name: str) -> None:
    reader, writer = os.pipe()
    os.close(reader)  # the reader is gone before anything is written: the first write fails
    try:
        run = _run(COMMANDS[name], writer)
    finally:
        os.close(writer)
    assert run.returncode == EXIT_CLOSED_PIPE
    assert "Traceback" not in run.stderr and "Errno" not in run.stderr
    assert "BrokenPipe" not in run.stderr


def _many_deals(path: Path, copies: int) -> None:
    lines = DEALS.read_text(encoding="utf-8").splitlines()
    with open(path, "w", encoding="utf-8") as out:
        for i in range(copies):
            for line in lines:
                deal = json.loads(line)
                deal["id"] = f"{deal['id']}-{i}"
                out.write(json.dumps(deal) + "\n")


def _temporaries(directory: Path, name: str) -> list[Path]:
    return sorted(directory.glob(f".{name}.*.tmp"))


@pytest.mark.parametrize("name", ["findings.jsonl", "findings.json", "findings.txt"])
def test_a_killed_run_leaves_no_output_and_the_next_run_cleans_up(tmp_path: Path,
                                                                    name: str) -> None:
    deals = tmp_path / "many.jsonl"
    _many_deals(deals, 20000)  # 120,000 records: seconds of work to kill it in
    output = tmp_path / name
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline_rules", "evaluate", B2B, str(deals), *NOW,
         "--output", str(output)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until the temporary exists (and, for JSON
            found = _temporaries(tmp_path, name)  # Lines, has something in it)
            if found and (name != "findings.jsonl" or found[0].stat().st_size > 0):
                break
            assert process.poll() is None, "the run ended before it could be killed"
            time.sleep(0.02)
        else:
            pytest.fail("no temporary output appeared")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert not output.exists()
    left = _temporaries(tmp_path, name)
    assert len(left) == 1 and str(process.pid) in left[0].name

    small = tmp_path / "small.jsonl"
    small.write_text(DEALS.read_text(encoding="utf-8"), encoding="utf-8")
    again = _run(["evaluate", B2B, str(small), *NOW, "--output", str(output)],
                 subprocess.DEVNULL)
    assert again.returncode == 0, again.stderr
    assert output.exists() and output.stat().st_size > 0
    assert _temporaries(tmp_path, name) == []


def test_a_temporary_of_a_running_writer_is_left_alone(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    mine = temporary_name(target)
    mine.write_text("being written", encoding="utf-8")
    dead = tmp_path / f".out.jsonl.{2**22 + 12345}-{'0' * 32}.tmp"  # no such process
    dead.write_text("left by a killed run", encoding="utf-8")
    other = tmp_path / f".other.jsonl.{2**22 + 12345}-{'0' * 32}.tmp"  # another output's
    other.write_text("not ours", encoding="utf-8")
    assert remove_stale(target) == 1
    assert mine.exists() and not dead.exists() and other.exists()


def test_a_failed_write_leaves_neither_file_nor_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    target.write_text("the previous complete output\n", encoding="utf-8")
    with pytest.raises(RuntimeError), atomic_output(str(target)) as temporary:
        Path(temporary).write_text("half", encoding="utf-8")
        raise RuntimeError("killed")
    assert target.read_text(encoding="utf-8") == "the previous complete output\n"
    assert _temporaries(tmp_path, "out.jsonl") == []
