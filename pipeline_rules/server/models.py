"""The request and response bodies of the HTTP API, as pydantic models for validation and for
the OpenAPI document.

Deals and findings are not re-described here: their schemas are the packaged JSON Schemas
(``schemas/deal.schema.json``, ``schemas/finding.schema.json``), published as the ``Deal`` and
``Finding`` components, so the API and the command line share one contract. A deal is validated
by the evaluator and the deal parser (which name the bad part), not by pydantic.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, model_validator

Lang = Literal["en", "ru"]

# Wrapped in allOf: pydantic resolves a bare "$ref" among its own definitions, and these two
# are added to the OpenAPI components afterwards (see .openapi).
DEAL_REF = {"allOf": [{"$ref": "#/components/schemas/Deal"}]}
FINDING_REF = {"allOf": [{"$ref": "#/components/schemas/Finding"}]}

#: Any JSON value, documented as a deal: the evaluator turns a bad one into a finding.
AnyDeal = Annotated[Any, WithJsonSchema(DEAL_REF)]
#: A JSON object, documented as a deal.
DealObject = Annotated[dict[str, Any], WithJsonSchema(DEAL_REF)]
FindingObject = Annotated[dict[str, Any], WithJsonSchema(FINDING_REF)]

EXAMPLE_DEAL: dict[str, Any] = {
    "id": "A-100", "stage": "meeting", "source": "cold", "owner": "sergey", "manager": "anna",
    "fields": {"amount": 250000},
    "history": [{"stage": "find_dm", "at": "2026-11-02T11:00:00+03:00"},
                {"stage": "qualification", "at": "2026-11-05T16:00:00+03:00"},
                {"stage": "meeting", "at": "2026-11-10T12:00:00+03:00"}],
    "tasks": [{"id": "A-100-1", "due": "2026-11-20T11:00:00+03:00", "done": False}],
    "events": [{"type": "meeting", "at": "2026-11-20T11:00:00+03:00"}]}

RULESET_FIELD = Field(min_length=1, description="The `id` of a served ruleset.",
                      examples=["b2b-sales"])


def lang_field() -> Any:
    """The ``lang`` field every request takes."""
    return Field("en", description="Language of the messages.")


class EvaluateRequest(BaseModel):
    """Deals to evaluate at a moment: give `deal` (one) or `deals` (a batch), not both."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "oneOf": [{"required": ["deal"]}, {"required": ["deals"]}],
        "examples": [{"ruleset": "b2b-sales", "now": "2026-11-20T09:05:00+03:00",
                      "deal": EXAMPLE_DEAL}]})

    ruleset: str = RULESET_FIELD
    now: str | None = Field(
        None, description="Evaluation time, ISO 8601 (default: the server's clock). Without an "
        "offset it is read in the ruleset's time zone.",
        json_schema_extra={"format": "date-time"}, examples=["2026-11-20T09:05:00+03:00"])
    lang: Lang = lang_field()
    deal: AnyDeal = Field(None, description="One deal.")
    deals: list[AnyDeal] = Field(default_factory=list,
                                 description="A batch of deals, evaluated in order.")

    @model_validator(mode="after")
    def _one_input(self) -> EvaluateRequest:
        given = {"deal", "deals"} & self.model_fields_set
        if len(given) != 1:
            raise ValueError("give exactly one of 'deal' (one deal) or 'deals' (a list)")
        return self


class EvaluateResponse(BaseModel):
    """The findings for every deal, in input order, and how many of each code."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "findings": [{
            "kind": "violation", "code": "sla-breach", "rule": "meeting-stall", "deal": "A-100",
            "stage": "meeting", "severity": "error", "at": "2026-11-17T12:00:00+03:00",
            "message": "in stage 'meeting' since 2026-11-10 12:00: the 7d limit of SLA "
                       "'meeting-stall' ran out at 2026-11-17 12:00",
            "ruleset": "b2b-sales",
            "details": {"since": "2026-11-10T12:00:00+03:00",
                        "deadline": "2026-11-17T12:00:00+03:00", "limit": "7d"}}],
        "summary": {"sla-breach": 1}}]})

    findings: list[FindingObject]
    summary: dict[str, int] = Field(description="Findings per code.")


class CheckRequest(BaseModel):
    """May this deal move to that stage now?"""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"ruleset": "b2b-sales", "deal": EXAMPLE_DEAL, "to": "invoice"}]})

    ruleset: str = RULESET_FIELD
    deal: DealObject = Field(description="The deal as it is before the move.")
    to: str = Field(min_length=1, description="The stage the deal should move to.",
                    examples=["invoice"])
    lang: Lang = lang_field()


class Reason(BaseModel):
    """Why a move is refused."""

    code: str = Field(description="not-declared, skips-stages, missing-field, "
                      "condition-failed, terminal, unknown-stage or bad-start.",
                      examples=["not-declared"])
    message: str
    field: str | None = Field(None, description="The deal field involved (absent if none).")
    stages: list[str] | None = Field(None, description="The stages involved (absent if none).")


class CheckResponse(BaseModel):
    """The decision: allowed, or refused with every reason."""

    model_config = ConfigDict(populate_by_name=True, json_schema_extra={"examples": [{
        "ruleset": "b2b-sales", "deal": "A-100", "from": "meeting", "to": "invoice",
        "allowed": False, "reasons": [
            {"code": "not-declared",
             "message": "the regulation has no move from 'meeting' to 'invoice'",
             "stages": ["meeting", "invoice"]},
            {"code": "skips-stages", "message": "the move skips proposal",
             "stages": ["proposal"]}]}]})

    ruleset: str
    deal: str
    from_: str | None = Field(alias="from", description="The deal's stage (null: a new deal).")
    to: str
    allowed: bool
    reasons: list[Reason]
    version: str | None = Field(None, description="For a ruleset kept in versions: the version "
                                                  "in force now, whose moves judged it.")


class RebaseRequest(BaseModel):
    """Re-base a deal onto the version of its ruleset in force at `now` (a ruleset not kept in
    versions is its one version)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"ruleset": "b2b-sales", "now": "2026-12-01T12:00:00+03:00", "deal": EXAMPLE_DEAL}]})

    ruleset: str = RULESET_FIELD
    now: str | None = Field(
        None, description="The instant of the re-basing, ISO 8601 (default: the server's "
        "clock); the deal is judged at it. Without an offset it is read in the ruleset's time "
        "zone.", json_schema_extra={"format": "date-time"},
        examples=["2026-12-01T12:00:00+03:00"])
    lang: Lang = lang_field()
    deal: DealObject = Field(description="The deal as the CRM holds it.")


class RebaseResponse(BaseModel):
    """The deal re-based (its `fields.rebased_at` set: store it back in the CRM), the version
    it is on from now, and its findings under it."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "ruleset": "b2b-sales", "version": "2", "effective": "2026-12-01T00:00:00+03:00",
        "deal": {**EXAMPLE_DEAL, "fields": {"amount": 250000,
                                            "rebased_at": "2026-12-01T12:00:00+03:00"}},
        "findings": [], "summary": {}}]})

    ruleset: str
    version: str | None = Field(description="The revision of the version it was re-based onto "
                                "(null: a ruleset not kept in versions).")
    effective: str | None = Field(description="When that version took effect (ISO 8601).")
    deal: dict[str, Any] = Field(description="The deal as it was sent, every key kept, with "
                                 "`fields.rebased_at` set to the instant of the re-basing.")
    findings: list[FindingObject]
    summary: dict[str, int] = Field(description="Findings per code.")


class LintRequest(BaseModel):
    """A ruleset to lint, as YAML text (or post the YAML itself as application/yaml)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"yaml": "version: 1\nid: demo\ntitle: Demo\nstages: [\n"}]})

    yaml: str = Field(description="The ruleset's YAML text.")
    lang: Lang = lang_field()


class Diagnostic(BaseModel):
    """One lint finding, positioned in the posted text (or the ruleset file)."""

    rule: str = Field(examples=["yaml-syntax"])
    severity: Literal["error", "warning", "info"]
    message: str
    file: str = Field(examples=["<request>"])
    line: int = Field(ge=1)
    column: int = Field(ge=1)
    path: str = Field(description="JSON pointer of the node in the document.")


class Severities(BaseModel):
    """Diagnostics per severity."""

    error: int
    warning: int
    info: int


class LintResponse(BaseModel):
    """Every diagnostic of the posted ruleset; 200 whether or not it has problems."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "diagnostics": [{"rule": "yaml-syntax", "severity": "error",
                         "message": "while parsing a flow node: did not find expected node "
                                    "content",
                         "file": "<request>", "line": 5, "column": 1, "path": ""}],
        "summary": {"error": 1, "warning": 0, "info": 0}}]})

    diagnostics: list[Diagnostic]
    summary: Severities


class VersionInfo(BaseModel):
    """One version of a ruleset kept in versions."""

    revision: str | None = Field(description="The version's revision label.")
    effective: str | None = Field(description="When it takes effect (ISO 8601).")
    file: str = Field(description="Its file, in the served directory.")


class RulesetInfo(BaseModel):
    """One ruleset file of the served directory."""

    id: str | None = Field(description="The id it is served by (null: never loaded).")
    title: str | None
    file: str = Field(description="The file name in the served directory.")
    status: Literal["ok", "error", "refused"] = Field(
        description="error: the file's current content cannot be served (see diagnostics); "
                    "its last good version, if any, keeps serving. refused: a link that leads "
                    "outside the served directory; never read, nothing served from it.")
    serving: bool = Field(description="Whether requests naming the id get this file's "
                                      "last good version.")
    loaded_at: str | None = Field(description="When the version being served was loaded.")
    failed_at: str | None = Field(description="When the current broken content was read.")
    diagnostics: list[Diagnostic]
    versions: list[VersionInfo] | None = Field(
        None, description="For a versions folder: every version, in effective order "
                          "(absent for a plain ruleset file).")


class RulesetsResponse(BaseModel):
    """Every ruleset file, by file name."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"rulesets": [{
        "id": "b2b-sales", "title": "B2B sales cycle", "file": "b2b_sales.yaml",
        "status": "ok", "serving": True, "loaded_at": "2026-11-20T06:00:01.123456+00:00",
        "failed_at": None, "diagnostics": []}]}]})

    rulesets: list[RulesetInfo]


class Health(BaseModel):
    """The process is up; how many rulesets it serves."""

    status: Literal["ok"]
    version: str
    rulesets: int


class Problem(BaseModel):
    """One problem of an invalid request."""

    path: str = Field(description="JSON pointer of the value in the request body.")
    message: str


class ErrorBody(BaseModel):
    """A refused request."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"error": "malformed-json", "message": "malformed JSON at line 2, column 23: trailing "
         "comma is not allowed", "line": 2, "column": 23},
        {"error": "unknown-ruleset", "message": "no ruleset 'b2c-sales'; served: b2b-sales"},
        {"error": "bad-deal", "message": "bad deal at /deal/history/0/at: 'yesterday' is not an "
         "ISO 8601 time (e.g. 2026-11-20T09:05:00+03:00)", "path": "/deal/history/0/at"}]})

    error: str = Field(description="A stable code: malformed-json, invalid-request, bad-deal, "
                       "unknown-ruleset, body-too-large, unauthorized, not-found, ...")
    message: str
    line: int | None = Field(None, description="malformed-json: where parsing stopped.")
    column: int | None = None
    path: str | None = Field(None, description="JSON pointer of the bad value.")
    problems: list[Problem] | None = None
    limit: int | None = Field(None, description="body-too-large: the limit in bytes.")


#: Models whose schemas the OpenAPI document publishes for request bodies.
REQUEST_MODELS: tuple[type[BaseModel], ...] = (EvaluateRequest, CheckRequest, RebaseRequest,
                                               LintRequest)
