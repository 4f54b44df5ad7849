"""Byte-identity harness: run two builds of ``pipeline-rules`` on the same inputs and compare
what they write, byte for byte, exit codes included (stderr is kept but not compared).

    python benchmarks/compare_outputs.py --old OLD/.venv/bin/pipeline-rules \\
        --new .venv/bin/pipeline-rules --work WORK \\
        [--count 200000] [--only evaluate|lint|VARIANT-PREFIX ...] [--keep-old]

Inputs are generated once into ``WORK/COUNT/inputs`` and reused while they exist (delete the
folder to make them again). They are seeded, so they are the same every time:

* ``deals.jsonl`` — ``COUNT`` deals of ``benchmarks/generate_deals.py`` (seed 42);
* ``dataset/`` and ``tenant-deals.jsonl`` — ``benchmarks/generate_parquet.py``: the same deals
  as a Parquet dataset of 8 partitions, each deal naming a ruleset of ``tenants/`` (or a broken
  or an unknown one), and their JSON Lines copy;
* the mutated corpora — ``COUNT / 10`` of those deals (at least 1000), a third of them messed
  up by this script's seeded mutator (see TYPED_MESSES, JSON_MESSES, RULESET_MESSES): malformed
  JSON, blank lines, missing/int/bool/duplicate ids, naive, odd and DST-gap times, out-of-order
  history, unknown stages, pauses, years out of range, unknown keys, odd Unicode and invalid
  UTF-8, rulesets named wrongly. ``mutated.jsonl`` keeps b2b_sales' stage names,
  ``mutated-RULESET.jsonl`` has them renamed for a ruleset with other stages,
  ``mutated-tenants.jsonl`` names rulesets, ``mutated-dataset/`` holds the messes Parquet
  columns can;
* ``rulesets/`` (copies of the project's ``rulesets/*.yaml``), ``tenants/`` (those rulesets,
  one with a bad time zone and one that is not YAML), and ``lint/`` (copies of
  ``tests/fixtures/lint/*/*.yaml``).

The generators, ruleset files and lint fixtures come from the checkout ``--old`` is installed
from (``--source`` picks another), and the generators run with the Python beside ``--old``
(``generate_parquet.py`` imports its ``pipeline_rules``). This script imports no
``pipeline_rules``: it runs the two commands, inside the inputs folder with relative paths,
``LANG=C``, ``--lang en`` and ``--now 2026-11-20T09:05:00+03:00``, so outputs do not depend on
where ``WORK`` is.

Each variant leaves ``stdout``, ``stderr``, ``exit`` (and ``output.parquet``, ``output.jsonl``
or the ``output/`` directory of ``--engine dask``) in ``WORK/COUNT/old/VARIANT/`` and
``WORK/COUNT/new/VARIANT/``; everything but stderr is compared. With ``--keep-old`` the old
command's results already there (from the same ``--old``) are reused, so only the new command
runs. One line per variant, each followed by the ``cmp`` commands that check the same by hand:

    same  evaluate/deals/b2b_sales/jsonl-j1
    DIFF  evaluate/deals/b2b_sales/parquet-j2: output.parquet differs at byte 4096 (old ...)

then ``N same, M different``; the exit status is 1 if any differ. SARIF logs that differ only
because a rule's page (its ``help``) was rewritten compare equal with
``python benchmarks/sarif_cmp.py OLD NEW``. ``--list`` prints the
variants' names without running them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NOW = "2026-11-20T09:05:00+03:00"
SEED = 42
#: Each run's environment: English, and a C locale whatever the caller's.
ENV = {**os.environ, "LANG": "C", "LC_ALL": "C"}
TIMEOUT = 900  # seconds for one run; a hung run counts as exit code "timeout"
REPOSITORY = Path(__file__).resolve().parent.parent

RULESETS = ("b2b_sales", "inbound_only", "manufacturing", "cold_only", "retail",
            "enpal_pipedrive")
#: The ruleset ids generated deals name: the six of ``tenants/``, a broken one, an unknown one.
TENANT_IDS = ("b2b-sales", "inbound-b2b", "manufacturing", "cold-b2b", "retail-orders",
              "enpal-pipedrive", "broken-co", "nope")
PARTITIONS = 8

# -- the variants ------------------------------------------------------------------------------

#: How a variant writes its findings: extra arguments ({out} is the output path) and the output
#: the variant leaves besides stdout (None: stdout only; a name without suffix: a directory).
OUTPUTS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "jsonl": (("--format", "jsonl"), None),
    "json": (("--format", "json"), None),
    "table": (("--format", "table"), None),
    "parquet": (("--output", "{out}"), "output.parquet"),
    "jsonl-file": (("--output", "{out}"), "output.jsonl"),
    "dask": (("--engine", "dask", "--output", "{out}"), "output"),
}
FORMATS = ("jsonl", "json", "table", "parquet")

#: Generated deals walk the stages of b2b_sales.yaml. For rulesets with other stages the
#: mutated corpora rename them (ruleset file -> stage renames, fields set on every other deal).
TRANSLATIONS: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    "manufacturing": ({"find_dm": "request", "qualification": "requirements", "meeting": "proposal",
                       "proposal": "contract", "paid": "shipped"},
                      {"specification": "S-1", "contract_number": "C-1",
                       "prepayment_date": "2026-10-01", "waybill_number": "W-1"}),
    "retail": ({"find_dm": "new_order", "request": "new_order", "qualification": "confirmed",
                "meeting": "delivery", "proposal": "delivery", "invoice": "delivery",
                "paid": "delivered", "lost": "cancelled"},
               {"phone": "+7 900 000-00-00", "delivery_method": "courier",
                "tracking_number": "T-1"}),
    "enpal_pipedrive": ({"find_dm": "lead_generation", "request": "lead_generation",
                         "qualification": "qualified_lead", "meeting": "needs_assessment",
                         "invoice": "closing", "paid": "won"}, {}),
}
#: Ruleset id -> file, for deals that name their ruleset.
RULESET_FILES = {"manufacturing": "manufacturing", "retail-orders": "retail",
                 "enpal-pipedrive": "enpal_pipedrive"}


def mutated(name: str) -> str:
    """The mutated corpus for a ruleset file: the generic one, or one in its stage names."""
    return f"mutated-{name}.jsonl" if name in TRANSLATIONS else "mutated.jsonl"


#: THE TABLE. Evaluations as (deals, ruleset, outputs, jobs): each output with each --jobs is a
#: variant ``evaluate/DEALS/RULESET/OUTPUT-jJOBS``. (a) is the 200,000 generated deals (--count),
#: (b) the mutated corpora (a tenth as many): cheap, so they take the wider combinations.
EVALUATIONS: tuple[tuple[str, str, tuple[str, ...], tuple[int, ...]], ...] = (
    # (a) one ruleset: every output format, one process and two
    ("deals.jsonl", "rulesets/b2b_sales.yaml", FORMATS, (1, 2)),
    ("deals.jsonl", "rulesets/b2b_sales.yaml", ("jsonl-file",), (1,)),
    # (a) each deal naming its ruleset in a directory of rulesets (two broken, one name unknown)
    ("tenant-deals.jsonl", "tenants", ("jsonl",), (1, 2)),
    ("tenant-deals.jsonl", "tenants", ("parquet",), (1,)),
    # (a) the same deals as a Parquet dataset: read in one process, and on a local Dask cluster
    ("dataset", "tenants", ("jsonl",), (1,)),
    ("dataset", "tenants", ("dask",), (2,)),
    ("dataset", "rulesets/b2b_sales.yaml", ("dask",), (1,)),
    # (b) the mutated corpora: every format for three rulesets, the main two for the others
    *((mutated(name), f"rulesets/{name}.yaml", (*FORMATS, "jsonl-file"), (1,))
      for name in RULESETS[:3]),
    *((mutated(name), f"rulesets/{name}.yaml", ("jsonl", "parquet"), (2,))
      for name in RULESETS[:3]),
    *((mutated(name), f"rulesets/{name}.yaml", ("jsonl", "parquet"), (1,))
      for name in RULESETS[3:]),
    ("mutated-tenants.jsonl", "tenants", ("jsonl",), (1, 2)),
    ("mutated-tenants.jsonl", "tenants", ("json", "table", "parquet"), (1,)),
    ("mutated-dataset", "tenants", ("jsonl",), (1,)),
    ("mutated-dataset", "tenants", ("dask",), (2,)),
    ("mutated-dataset", "rulesets/manufacturing.yaml", ("parquet",), (1,)),
)
#: Lint variants as (format, per): per fixture file, run in its folder with its bare name (as
#: tests/test_lint_fixtures.py does: the exit code of each case), or one run per folder.
LINTS = (("json", "file"), ("json", "folder"), ("sarif", "folder"))


@dataclass(frozen=True)
class Variant:
    """One command line, run with both commands in ``cwd`` (relative to the inputs)."""

    name: str
    args: tuple[str, ...]
    cwd: str = "."
    output: str | None = None


def variants(inputs: Path) -> list[Variant]:
    """Every variant: the evaluations of the table, then the lint runs on the fixtures."""
    found = []
    for deals, ruleset, outputs, jobs in EVALUATIONS:
        for output in outputs:
            extra, path = OUTPUTS[output]
            for count in jobs:
                name = f"evaluate/{Path(deals).stem}/{Path(ruleset).stem}/{output}-j{count}"
                found.append(Variant(name, ("evaluate", ruleset, deals, "--now", NOW, "--lang",
                                            "en", "--jobs", str(count), *extra), ".", path))
    folders = sorted(p.name for p in (inputs / "lint").iterdir() if p.is_dir())
    for fmt, per in LINTS:
        lint = ("lint", "--format", fmt, "--lang", "en")
        for folder in folders:
            if per == "folder":
                found.append(Variant(f"lint/{fmt}/{folder}", (*lint, folder), "lint"))
                continue
            for case in sorted(p.name for p in (inputs / "lint" / folder).glob("*.yaml")):
                found.append(Variant(f"lint/{fmt}/{folder}/{case}", (*lint, case),
                                     f"lint/{folder}"))
    return found


# -- the inputs --------------------------------------------------------------------------------

def prepare(inputs: Path, count: int, python: str, source: Path) -> None:
    """Generate the inputs into ``inputs`` unless a complete set is there already."""
    if (inputs / ".complete").exists():
        return
    print(f"generating inputs in {inputs} ...", file=sys.stderr)
    building = inputs.with_name(inputs.name + ".partial")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    (building / "rulesets").mkdir()
    (building / "tenants").mkdir()
    for name in RULESETS:
        shutil.copyfile(source / "rulesets" / f"{name}.yaml",
                        building / "rulesets" / f"{name}.yaml")
        shutil.copyfile(source / "rulesets" / f"{name}.yaml", building / "tenants" / f"{name}.yaml")
    text = (source / "rulesets" / "b2b_sales.yaml").read_text(encoding="utf-8")
    (building / "tenants" / "broken.yaml").write_text(
        text.replace("id: b2b-sales", "id: broken-co").replace("Europe/Moscow", "Mars/Olympus"),
        encoding="utf-8")
    (building / "tenants" / "garbage.yaml").write_text("version: 1\nid: [\n", encoding="utf-8")
    (building / "tenants" / "notes.txt").write_text("not a ruleset\n", encoding="utf-8")
    for fixture in sorted((source / "tests" / "fixtures" / "lint").glob("*/*.yaml")):
        (building / "lint" / fixture.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(fixture, building / "lint" / fixture.parent.name / fixture.name)

    benchmarks = source / "benchmarks"
    with open(building / "deals.jsonl", "wb") as out:
        subprocess.run([python, str(benchmarks / "generate_deals.py"), str(count), "--seed",
                        str(SEED), "--now", NOW], stdout=out, check=True, cwd=building)
    subprocess.run([python, str(benchmarks / "generate_parquet.py"), str(count), "dataset",
                    "--partitions", str(PARTITIONS), "--seed", str(SEED), "--now", NOW,
                    "--rulesets", ",".join(TENANT_IDS), "--jsonl", "tenant-deals.jsonl"],
                   check=True, cwd=building)

    size = min(count, max(count // 10, 1000))
    deals = _head(building / "deals.jsonl", size)
    tenant_deals = _head(building / "tenant-deals.jsonl", size)
    every = TYPED_MESSES + JSON_MESSES
    for name in (None, *TRANSLATIONS):
        (building / mutated(name or "")).write_bytes(
            mutate(translate(deals, name), random.Random(SEED + 1), every))
    tenant_deals = translate(tenant_deals)
    (building / "mutated-tenants.jsonl").write_bytes(mutate(
        tenant_deals, random.Random(SEED + 2),
        every + (RULESET_MESSES + JSON_RULESET_MESSES) * 4))
    (building / "mutated-dataset.jsonl").write_bytes(mutate(
        tenant_deals, random.Random(SEED + 3), TYPED_MESSES + RULESET_MESSES * 4,
        blank_lines=False))
    subprocess.run([python, "-I", "-c", PARQUET_WRITER, str(benchmarks),
                    "mutated-dataset.jsonl", "mutated-dataset", "4"], check=True, cwd=building)
    (building / ".complete").write_text(f"count {count}, seed {SEED}\n", encoding="utf-8")
    shutil.rmtree(inputs, ignore_errors=True)
    building.rename(inputs)


def checkout(python: str) -> Path:
    """The checkout ``python`` runs pipeline_rules from (an editable install), if it has the
    generators; else this script's. The reference inputs come from the reference code."""
    found = subprocess.run([python, "-I", "-c",
                            "import pipeline_rules; print(pipeline_rules.__file__)"],
                           capture_output=True, text=True, check=True, env=ENV).stdout.strip()
    root = Path(found).parent.parent
    return root if (root / "benchmarks" / "generate_parquet.py").exists() else REPOSITORY


def translate(lines: list[bytes], name: str | None = None) -> list[bytes]:
    """Generated deals in the stage names of ruleset file ``name`` (None: of the ruleset each
    deal names, if it has a translation)."""
    out = []
    for index, line in enumerate(lines):
        record = json.loads(line)
        stages, fields = TRANSLATIONS.get(name or RULESET_FILES.get(record.get("ruleset"), ""),
                                          ({}, {}))
        if stages:
            record["stage"] = stages.get(record["stage"], record["stage"])
            for entry in record["history"]:
                entry["stage"] = stages.get(entry["stage"], entry["stage"])
            if index % 2:
                record["fields"].update(fields)
        out.append(_encode(record) if stages else line)
    return out


def _head(path: Path, size: int) -> list[bytes]:
    with open(path, "rb") as lines:
        return [line for _, line in zip(range(size), lines, strict=False)]


#: Writes the records of a JSON Lines file as a Parquet dataset of N partitions, with the writer
#: and field types generate_parquet.py uses (run by the old Python: it needs pipeline_rules).
PARQUET_WRITER = """
import json, sys
sys.path.insert(0, sys.argv[1])
from generate_parquet import FIELDS, write_deals
rows = [json.loads(line) for line in open(sys.argv[2], 'rb')]
parts = int(sys.argv[4])
for index in range(parts):
    write_deals(rows[index * len(rows) // parts:(index + 1) * len(rows) // parts],
                f'{sys.argv[3]}/part-{index:05d}.parquet', 'ruleset', FIELDS)
"""


# -- the mutator -------------------------------------------------------------------------------

Mess = Callable[[dict[str, Any], random.Random, list[Any]], Any]
_DELETE = object()


def put(*path: Any, value: Any = _DELETE) -> Mess:
    """A mess that sets the key at ``path`` (deleting it without ``value``); a callable
    ``value`` gets the old value."""

    def mess(record: dict[str, Any], rng: random.Random, seen: list[Any]) -> Any:
        where: Any = record
        for key in path[:-1]:
            where = where[key]
        if value is _DELETE:
            where.pop(path[-1], None)
        else:
            where[path[-1]] = value(where.get(path[-1])) if callable(value) else value
        return record

    return mess


def raw(change: Callable[[bytes], bytes]) -> Mess:
    """A mess made on the encoded line (the result is written as it is)."""
    return lambda record, rng, seen: change(_encode(record))


def _swap(record: dict[str, Any], rng: random.Random, seen: list[Any]) -> Any:
    history = record["history"]
    history[0], history[-1] = history[-1], history[0]
    return record


def _duplicate(record: dict[str, Any], rng: random.Random, seen: list[Any]) -> Any:
    record["id"] = rng.choice(seen) if seen else "D-0000000"
    return record


def _misnamed_stage(record: dict[str, Any], rng: random.Random, seen: list[Any]) -> Any:
    record["stage"] = record["history"][0]["stage"] if len(record["history"]) > 1 else "lost"
    return record


def _ruleset_in_fields(record: dict[str, Any], rng: random.Random, seen: list[Any]) -> Any:
    record["fields"]["ruleset"] = record.pop("ruleset", None)
    return record


def _pause(start: Any, end: Any, reason: Any = "client asked to wait") -> Mess:
    def mess(record: dict[str, Any], rng: random.Random, seen: list[Any]) -> Any:
        first = record["history"][0]["at"]
        record["pauses"] = [{"from": first if start is None else start,
                             "to": first if end == "first" else end, "reason": reason}]
        return record

    return mess


def _later(record: dict[str, Any], rng: random.Random, seen: list[Any]) -> Any:
    record["history"].append({"stage": record["stage"], "at": "2026-11-19T10:00:00+01:00",
                              "override": "the director agreed"})
    return record


def _deep(record: dict[str, Any], rng: random.Random, seen: list[Any]) -> Any:
    nested: Any = "bottom"
    for _ in range(200):
        nested = {"x": [nested]}
    record["fields"]["deep"] = nested
    return record


def _replace(old: bytes, new: bytes) -> Callable[[bytes], bytes]:
    return lambda line: line.replace(old, new, 1)


AT0, AT1 = ("history", 0, "at"), ("history", -1, "at")
#: Changes Parquet can hold too (the column types stay): used for both corpora.
TYPED_MESSES: tuple[Mess, ...] = (
    put("id"), put("id", value=""), put("id", value=" D-1 "), put("id", value="D" * 5000),
    _duplicate, _duplicate, _duplicate,
    put(*AT0, value=lambda at: at[:19]),  # no offset: the ruleset's zone
    put(*AT1, value=lambda at: at[:16]),  # to the minute, no offset
    put(*AT0, value=lambda at: at[:10]),  # a bare date
    put(*AT1, value="2026-03-29T02:30:00"),  # inside a DST gap (naive)
    put(*AT1, value="2026-10-25T02:30:00"),  # a repeated hour (naive)
    put(*AT0, value="1899-12-31T23:00:00+00:00"), put(*AT1, value="3000-01-01T00:00:00+00:00"),
    put(*AT0, value="1900-01-01T00:30:00+14:00"), put(*AT1, value="2999-12-31T23:59:59-12:00"),
    put(*AT1, value="0001-01-01T00:00:00"),
    _swap, _later, put("stage", value="negotiation"), put("stage"), put("stage", value=""),
    _misnamed_stage, put("history", value=[]), put("history"),
    put("history", 0, "stage", value=""), put("history", 0, "stage"),
    put("history", -1, "stage", value=lambda stage: stage + "\u200b"),
    put("history", -1, "at"),
    put("tasks", value=[{"due": None}, {"id": None, "due": "2026-11-21T00:00:00+03:00",
                                        "done": False}]),
    put("tasks", value=[{"id": "t", "due": "3000-01-01T00:00:00+00:00", "done": True}]),
    put("events", value=[{"type": "", "at": "2026-11-20T12:00:00+03:00"}]),
    put("events", value=[{"type": "meeting", "at": "2026-11-20T12:00:00+03:00"},
                         {"type": "call", "at": "2026-11-21T10:00:00"}]),
    _pause(None, None), _pause(None, "first"), _pause("2026-11-18T00:00:00+03:00",
                                                      "2026-11-10T00:00:00+03:00"),
    _pause(None, None, None), _pause(None, None, ""),
    put("fields", "payment_date"), put("fields", value={}),
    put("owner", value="Сергей 🙂"), put("owner", value="e\u0301\u202eRTL\u2028\u0085"),
    put("manager", value=""), put("source", value="web form"),
)
#: Changes only JSON can carry (other types, broken text), on top of the typed ones.
JSON_MESSES: tuple[Mess, ...] = (
    raw(lambda line: b"{not json"), raw(lambda line: line[: len(line) // 2]),
    raw(lambda line: b"[1, 2, 3]"), raw(lambda line: b'"a deal"'), raw(lambda line: b"null"),
    raw(lambda line: b"42"), raw(lambda line: b"{}"), raw(lambda line: line + b"\r"),
    raw(lambda line: b" \t" + line + b"  "), raw(lambda line: line[:-1] + b",}"),
    raw(lambda line: line.replace(b'"', b"'")),
    raw(_replace(b'"fields":{', b'"fields":{"ratio":NaN,')),
    raw(_replace(b'"fields":{', b'"fields":{"big":1e400,')),
    raw(lambda line: b'{"stage":"lost",' + line[1:]),  # a key twice
    raw(_replace(b'"owner":"', b'"owner":"\xff\xfe')),  # not UTF-8
    raw(_replace(b'"owner":"', b'"owner":"\xc0\xaf')),  # an overlong encoding
    raw(_replace(b'"owner":"', b'"owner":"\\ud800')),  # a lone surrogate
    raw(_replace(b'"owner":"', b'"owner":"\\u0000')),
    put("id", value=lambda ident: int(ident[2:])), put("id", value=True), put("id", value=1.5),
    put("id", value=None), put("id", value=["D-1"]), put("id", value=2**70),
    put(*AT0, value=lambda at: at.replace("+03:00", "Z")),
    put(*AT0, value=lambda at: at.replace("T", " ")),
    put(*AT0, value=lambda at: at[:19] + ".1234567" + at[19:]),
    put(*AT0, value=lambda at: at.replace("T", "t")),
    put(*AT0, value="9999-12-31T23:59:59+14:00"), put(*AT0, value=1763625900),
    put("stage", value=3), put("history", value={}), put("history", value="meeting"),
    put("history", 0, value="meeting"), put("history", 0, "override", value=5),
    put("history", 0, "by", value="crm"),
    put("tasks", value=[{"due": "tomorrow"}]), put("tasks", value=[{"done": "yes"}]),
    put("tasks", value=[{"id": True}]), put("tasks", value="call"), put("tasks", value=["call"]),
    put("events", value=[{"type": "meeting", "at": "soon"}]), put("events", value={}),
    put("pauses", value={}), put("pauses", value=["pause"]),
    put("fields", value=[1]), put("fields", value="x"), put("fields", value=None),
    put("fields", "amount", value="1 000"), put("fields", "сумма", value=1), _deep,
    put("crm", value={"pipeline": 3}), put("Stage", value="paid"), put("__proto__", value=None),
    put("owner", value=3), put("manager", value=False), put("source", value=["cold"]),
)
#: How deals name their ruleset, gone wrong (deals of the multi-ruleset corpora only).
RULESET_MESSES: tuple[Mess, ...] = (
    put("ruleset"), put("ruleset", value=""), put("ruleset", value="nope"),
    put("ruleset", value="b2b-sale"), put("ruleset", value="broken-co"),
    put("ruleset", value="B2B-SALES"), put("ruleset", value=" b2b-sales"), _ruleset_in_fields,
)
JSON_RULESET_MESSES: tuple[Mess, ...] = (
    put("ruleset", value=7), put("ruleset", value=True), put("ruleset", value=["b2b-sales"]),
)
BLANKS = (b"\n", b"   \n", b"\t\r\n")


def _encode(record: Any) -> bytes:
    if isinstance(record, bytes):
        return record
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()


def _messed(record: dict[str, Any], rng: random.Random, seen: list[Any],
            messes: tuple[Mess, ...]) -> Any:
    """The record with one mess (sometimes two) or, two times in three, unchanged."""
    if rng.random() >= 1 / 3:
        return record
    for _ in range(2 if rng.random() < 0.1 else 1):
        mess = rng.choice(messes)
        # (a second mess may find nothing left to change)
        with contextlib.suppress(KeyError, IndexError, TypeError, AttributeError):
            record = mess(record, rng, seen)
        if not isinstance(record, dict):
            break
    return record


def mutate(lines: list[bytes], rng: random.Random, messes: tuple[Mess, ...],
           blank_lines: bool = True) -> bytes:
    """JSON Lines of generated deals, a third of them messed up by one of ``messes``; with
    ``blank_lines``, blank lines between some and no newline after the last."""
    out, seen = [], []
    for line in lines:
        if blank_lines and rng.random() < 0.01:
            out.append(rng.choice(BLANKS))
        record = json.loads(line)
        ident = record["id"]
        out.append(_encode(_messed(record, rng, seen, messes)) + b"\n")
        seen.append(ident)
    return b"".join(out)[:-1] if blank_lines else b"".join(out)


# -- running and comparing ---------------------------------------------------------------------

def run(command: str, variant: Variant, inputs: Path, dest: Path) -> None:
    """Run one variant, leaving stdout, stderr, exit (and the output) in ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("stdout", "stderr", "exit", "command", "output.parquet", "output.jsonl"):
        (dest / name).unlink(missing_ok=True)
    shutil.rmtree(dest / "output", ignore_errors=True)
    args = [arg.replace("{out}", str(dest / variant.output)) if variant.output else arg
            for arg in variant.args]
    with open(dest / "stdout", "wb") as out, open(dest / "stderr", "wb") as err, \
            subprocess.Popen([command, *args], cwd=inputs / variant.cwd, env=ENV, stdout=out,
                             stderr=err, stdin=subprocess.DEVNULL,
                             start_new_session=True) as process:
        try:
            code: int | str = process.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the run and any workers it started
            process.wait()
            code = "timeout"
    (dest / "command").write_text(command, encoding="utf-8")
    (dest / "exit").write_text(f"{code}\n", encoding="utf-8")


def _ran(dest: Path, command: str) -> bool:
    """Whether ``command`` ran a variant to its end into ``dest`` (a result to keep)."""
    return (dest / "exit").exists() and (dest / "command").read_text(encoding="utf-8") == command


def compared_files(variant: Variant, old: Path, new: Path) -> list[str]:
    """The files to compare, relative to a variant's folder: the exit code, stdout, and the
    output file or every file of the output directory either run wrote."""
    names = ["exit", "stdout"]
    if variant.output and "." in variant.output:
        names.append(variant.output)
    elif variant.output:
        names.extend(sorted({str(p.relative_to(side)) for side in (old, new)
                             for p in (side / variant.output).rglob("*") if p.is_file()}))
    return names


def first_difference(variant: Variant, old: Path, new: Path) -> str | None:
    """None when the two runs wrote the same bytes, else where they first differ."""
    for name in compared_files(variant, old, new):
        written = (old / name).exists(), (new / name).exists()
        if written != (True, True):
            if written == (False, False):
                continue  # neither run wrote it: the same outcome
            return f"{name} only in the {'old' if written[0] else 'new'} output"
        before, after = (old / name).read_bytes(), (new / name).read_bytes()
        if before == after:
            continue
        if name == "exit":
            return f"exit code {before.decode().strip()} (old) != {after.decode().strip()} (new)"
        offset = _offset(before, after)
        line = before.count(b"\n", 0, offset) + 1
        where = f", line {line}" if name in ("stdout", "output.jsonl") else ""
        return f"{name} differs at byte {offset}{where} (old {len(before)} bytes, new " \
               f"{len(after)})"
    return None


def _offset(a: bytes, b: bytes) -> int:
    """The first offset where two different byte strings differ (or the shorter's length)."""
    shorter, step, start = min(len(a), len(b)), 1 << 16, 0
    while start < shorter and a[start:start + step] == b[start:start + step]:
        start += step
    return next((i for i in range(start, min(start + step, shorter)) if a[i] != b[i]), shorter)


def cmp_command(variant: Variant, old: Path, new: Path) -> str:
    """The shell commands that make the same comparison as first_difference."""
    return " && ".join(f"cmp {old / name} {new / name}"
                       for name in compared_files(variant, old, new))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old", required=True, help="the reference pipeline-rules command")
    parser.add_argument("--new", required=True, help="the pipeline-rules command to check")
    parser.add_argument("--work", required=True, type=Path, help="inputs and outputs go here")
    parser.add_argument("--count", type=int, default=200_000, help="generated deals")
    parser.add_argument("--only", action="append", default=[], metavar="PREFIX",
                        help="only variants whose name starts with this (evaluate, lint, "
                             "evaluate/mutated, ...); repeatable")
    parser.add_argument("--keep-old", action="store_true",
                        help="reuse the old command's results in WORK when there")
    parser.add_argument("--python", help="the Python that runs the generators (default: the "
                                         "one beside --old)")
    parser.add_argument("--source", type=Path,
                        help="the checkout whose benchmarks/, rulesets/ and tests/fixtures/lint/ "
                             "make the inputs (default: the one --old is installed from)")
    parser.add_argument("--list", action="store_true", help="list the variants and stop")
    args = parser.parse_args()

    root = args.work.absolute() / str(args.count)
    inputs = root / "inputs"
    python = args.python or str(Path(args.old).absolute().parent / "python")
    prepare(inputs, args.count, python, args.source or checkout(python))
    chosen = [v for v in variants(inputs)
              if not args.only or any(v.name.startswith(p) for p in args.only)]
    if args.list:
        print("\n".join(v.name for v in chosen))
        return 0
    started = time.monotonic()
    differing = 0
    for number, variant in enumerate(chosen, start=1):
        old, new = root / "old" / variant.name, root / "new" / variant.name
        print(f"[{number}/{len(chosen)}] {variant.name}", file=sys.stderr)
        if not (args.keep_old and _ran(old, args.old)):
            run(args.old, variant, inputs, old)
        run(args.new, variant, inputs, new)
        difference = first_difference(variant, old, new)
        differing += difference is not None
        print(f"DIFF  {variant.name}: {difference}" if difference else f"same  {variant.name}")
        print(f"      {cmp_command(variant, old, new)}", flush=True)
    print(f"{len(chosen) - differing} same, {differing} different "
          f"({time.monotonic() - started:.0f} s)")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
