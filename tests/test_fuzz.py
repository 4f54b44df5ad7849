"""The fuzz suite: generated input against every reader a user's bytes reach.

* ruleset YAML — structured documents, free text over YAML's own characters, and real rulesets
  cut and spliced with hostile tokens — through the loader, lint and the compiler: diagnostics
  or a refusal with them (``RulesetError``), never anything else;
* deal records — deal-shaped JSON with values of every type, and any bytes — through the one
  decoder: a ``Deal`` or a ``DealError`` (the fast route: a ``Deal`` or ``None``, declining);
* HTTP bodies — schemathesis generates requests from the OpenAPI document of a real ``serve``
  process and sends them to it, one by one and in sequences that follow the document's links
  (a listed ruleset id evaluated, checked and re-based against; a re-based deal evaluated and
  checked): every answer is below 500.

Each test is bounded (``max_examples``, no deadline: the machines are shared) so the whole
file runs in well under a minute. Inputs that once broke something are kept below as explicit
cases, whatever the generators find next.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import orjson
import pytest
import schemathesis
import yaml
from helpers import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_server import TOKEN, start_server, stop_server

from pipeline_rules.deals.decode import decode_deal, parse_deal
from pipeline_rules.deals.model import Deal, DealError
from pipeline_rules.lint import lint
from pipeline_rules.ruleset.catalog import RulesetError, compile_source
from pipeline_rules.ruleset.compiled import CompiledRuleset
from pipeline_rules.ruleset.source import Source

ZONE = ZoneInfo("Europe/Moscow")
RULESETS = sorted((ROOT / "rulesets").glob("*.yaml"))
FUZZ = settings(max_examples=120, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

# -- ruleset YAML --------------------------------------------------------------------------------

#: Tokens that have broken, or could break, a YAML reader: huge and odd numbers, tags, anchors,
#: aliases, tabs, merge keys, several documents, unclosed brackets, odd bytes.
HOSTILE = ["1" * 4301, "0b" + "1" * 300, "0x" + "f" * 40, ":".join(["1"] + ["59"] * 60),
           "1.0e+999", "-.inf", ".nan", "!!int x", "!!float ''", "!!python/object:os.system {}",
           "!!binary aGk=", "&a [1, *a]", "*nowhere", "<<: *a", "\t", "---\n", "[", "{", "'",
           '"\\x', "? [a]: b", "\ufeff", "\x00", "\u2028", "9223372036854775808",
           "0 0 1 1 5#5", "0 0 31 2 *", "2026-02-30", "99999d", "1e3 business days", "*",
           "from: '*'", "- {id: won, terminal: won}", "terminal: maybe", "id: [a]"]

_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
    st.sampled_from(["meeting", "won", "lost", "*", "start", "end", "7d", "5 business days",
                     "Europe/Moscow", "Mars/Olympus", "*/15 8-19 * * mon-fri", "0 0 1 1 5#5",
                     "2026-01-01", "escalate"]))
_values = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12)
_keys = st.sampled_from(["version", "id", "title", "timezone", "calendars", "stages", "start",
                         "end", "transitions", "sla", "tasks", "reminders", "actions",
                         "schedule", "lint", "plugins", "extra"])


@st.composite
def structured_rulesets(draw: st.DrawFn) -> str:
    """A ruleset-shaped document: the real top-level keys with values of any shape."""
    data: dict[str, Any] = {"version": 1, "id": "fuzz", "stages": [
        {"id": "a"}, {"id": "won", "terminal": "won"}, {"id": "lost", "terminal": "lost"}],
        "start": [{"id": "s", "stage": "a"}],
        "transitions": [{"from": "a", "to": "won"}, {"from": "*", "to": "lost"}]}
    data.update(draw(st.dictionaries(_keys, _values, max_size=4)))
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


@st.composite
def spliced_rulesets(draw: st.DrawFn) -> str:
    """A real ruleset with a few cuts and hostile tokens spliced in."""
    text = draw(st.sampled_from(RULESETS)).read_text(encoding="utf-8")
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        cut = draw(st.integers(0, 20))
        text = text[:at] + draw(st.sampled_from(HOSTILE)) + text[at + cut:]
    return text


yaml_texts = st.one_of(
    structured_rulesets(),
    spliced_rulesets(),
    st.text(alphabet=st.sampled_from(list(":-[]{},&*!|>#'\"\t\n ?0123456789.eExb_abcz")),
            max_size=200),
)


def _through_everything(text: str) -> None:
    source = Source("fuzz.yaml", text)
    diagnostics = list(lint(source))
    assert all(d.line >= 1 and d.column >= 1 for d in diagnostics)
    try:
        compiled = compile_source(source)
    except RulesetError as err:
        assert err.diagnostics
        return
    assert isinstance(compiled, CompiledRuleset)
    assert not any(d.severity.value == "error" and d.rule != "compile" for d in diagnostics
                   if d.rule in ("yaml-syntax", "document-limit", "schema"))


@FUZZ
@given(yaml_texts)
def test_any_ruleset_text_gets_diagnostics_never_a_crash(text: str) -> None:
    _through_everything(text)


#: Texts that broke the loader, lint or the compiler once, kept as they were found.
RULESET_REGRESSIONS = [
    "a: " + "1" * 4301 + "\n",                       # int() refused it: ValueError traceback
    "a: 0b" + "1" * 100000 + "\n",                   # converted at any length: a huge int
    "a: " + ":".join(["1"] + ["59"] * 3000) + "\n",  # base 60: quadratic conversion
    "a: !!int twelve\n",                             # PyYAML's int(): ValueError
    "a: !!int ''\n",                                 # PyYAML's value[0]: IndexError
    "a: !!float '-'\n",
    "version: 1\nid: x\nstages: [{id: a}]\nschedule: {evaluate: '0 0 1 1 5#5'}\n",
]


@pytest.mark.parametrize("text", RULESET_REGRESSIONS, ids=range(len(RULESET_REGRESSIONS)))
def test_ruleset_texts_that_once_crashed(text: str) -> None:
    _through_everything(text)


# -- deal records ---------------------------------------------------------------------------------

_times = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31))
    .map(lambda d: d.isoformat()),
    st.sampled_from(["2026-11-20T09:05:00+03:00", "2026-11-20", "2026-02-30T00:00:00Z",
                     "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00", "yesterday",
                     "2026-11-20T09:05:00", "", "2026-11-20T25:00:00Z"]))
_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1),
              st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12), _times),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=10)
_entries = st.fixed_dictionaries({}, optional={"stage": _json, "at": _json, "note": _json,
                                               "id": _json, "due": _json, "done": _json,
                                               "kind": _json, "from": _json, "to": _json,
                                               "reason": _json, "extra": _json})
_deals = st.fixed_dictionaries({}, optional={
    "id": st.one_of(st.text(max_size=6), _json), "ruleset": _json,
    "stage": st.one_of(st.sampled_from(["meeting", "request", "paid"]), _json),
    "created_at": st.one_of(_times, _json), "updated_at": _json, "source": _json,
    "owner": _json, "manager": _json, "fields": _json,
    "history": st.one_of(st.lists(_entries, max_size=4), _json),
    "tasks": st.one_of(st.lists(_entries, max_size=3), _json),
    "pauses": st.one_of(st.lists(_entries, max_size=2), _json),
    "events": st.one_of(st.lists(_entries, max_size=2), _json), "extra": _json})


def _decoded(data: object) -> None:
    try:
        deal = parse_deal(data, ZONE)
    except DealError:
        deal = None
    assert deal is None or isinstance(deal, Deal)
    try:
        line = orjson.dumps(data)
    except (TypeError, orjson.JSONEncodeError):  # not JSON at all (an int over 64 bits)
        return
    fast = decode_deal(line, ZONE)
    assert fast is None or isinstance(fast, Deal)
    if fast is not None:  # the fast route never accepts what the general one refuses
        assert deal is not None and fast.id == deal.id


@FUZZ
@given(st.one_of(_deals, _json))
def test_any_deal_record_is_a_deal_or_a_deal_error(data: object) -> None:
    _decoded(data)


@FUZZ
@given(st.binary(max_size=200))
def test_any_bytes_decode_to_a_deal_or_decline(line: bytes) -> None:
    fast = decode_deal(line, ZONE)
    assert fast is None or isinstance(fast, Deal)


DEAL_REGRESSIONS: list[object] = [
    {"id": "d", "stage": "a", "history": [{"stage": "a", "at": "9999-12-31T23:59:59-12:00"}]},
    {"id": "d", "created_at": "0001-01-01T00:00:00+14:00"},
    {"id": 2**63, "stage": "a"},
    {"id": "d", "history": "not a list", "tasks": {"0": {}}},
]


@pytest.mark.parametrize("data", DEAL_REGRESSIONS, ids=range(len(DEAL_REGRESSIONS)))
def test_deal_records_kept_as_cases(data: object) -> None:
    _decoded(data)


# -- HTTP bodies ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def served_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The OpenAPI document of a real `pipeline-rules serve` process (its protocol limits, its
    compute threads and forked children as a user runs them), stopped after the module."""
    running = start_server(tmp_path_factory.mktemp("fuzz-serve"))
    try:
        yield schemathesis.openapi.from_url(f"{running.url}/openapi.json")
    finally:
        stop_server(running)


def test_no_request_the_api_describes_gets_a_500(served_schema: Any) -> None:
    operations = [found.ok() for found in served_schema.get_all_operations()]
    assert len(operations) >= 5
    for operation in operations:

        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
        @given(operation.as_strategy())
        def no_500(case: Any) -> None:
            response = case.call(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
            assert response.status_code < 500, (case.operation.label, response.status_code,
                                                response.text[:500])

        no_500()


def test_linked_calls_in_sequence_get_no_500(served_schema: Any) -> None:
    """Stateful: schemathesis follows the OpenAPI links (the rulesets listed are evaluated,
    checked and re-based against; a re-based deal is evaluated and checked as given back), so
    sequences reach the work behind a real ruleset id, not only 404s. Bounded: a fixed number
    of sequences of a few steps each."""
    machine = served_schema.as_state_machine()
    transitions = served_schema.statistic.transitions
    assert transitions.total >= 7

    class Sequences(machine):  # type: ignore[misc, valid-type]
        #: Each operation called with a ruleset the server has (any answer but a 404).
        reached: ClassVar[set[str]] = set()

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": {"Authorization": f"Bearer {TOKEN}"}, "timeout": 30}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            assert response.status_code < 500, (case.operation.label, response.status_code,
                                                response.text[:500])
            if response.status_code != 404:
                Sequences.reached.add(case.operation.label)

    # Derandomized: the same sequences every run, so a failure is the code's, not the draw's.
    Sequences.run(settings=settings(max_examples=25, stateful_step_count=5, deadline=None,
                                    derandomize=True, suppress_health_check=list(HealthCheck)))
    # The links led somewhere: the ruleset ids they carried reached the work behind them (a
    # random id is a 404).
    assert {"POST /v1/evaluate", "POST /v1/check-transition", "POST /v1/rebase"} \
        <= Sequences.reached


#: Requests that broke the API's contract once, kept as they were found: (operation, body).
HTTP_REGRESSIONS: list[tuple[str, dict[str, Any]]] = [
    # The re-based deal came back with a note the parser reads as text (`override: 0`), which
    # the Deal schema the answer first claimed refuses: the answer is the deal as sent.
    ("POST /v1/rebase", {"ruleset": "b2b-sales", "now": "2026-12-02T12:00:00+03:00", "deal": {
        "id": "A-100", "stage": "meeting", "undated_start": "prospecting", "whole_days": True,
        "history": [{"stage": "meeting", "at": "2026-11-20T09:05:00+03:00", "override": 0}]}}),
]


@pytest.mark.parametrize(("label", "body"), HTTP_REGRESSIONS,
                         ids=range(len(HTTP_REGRESSIONS)))
def test_http_requests_that_once_broke_the_contract(served_schema: Any, label: str,
                                                    body: dict[str, Any]) -> None:
    operation = served_schema.find_operation_by_label(label)
    case = operation.Case(body=body, media_type="application/json")
    headers = {"Authorization": f"Bearer {TOKEN}"}
    response = case.call(headers=headers, timeout=30)
    assert response.status_code < 500, response.text[:500]
    case.validate_response(response, headers=headers)  # status, content type, body schema
