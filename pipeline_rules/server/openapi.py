"""The OpenAPI document: FastAPI's, completed with the request bodies the handlers parse
themselves, the packaged deal and finding schemas, and the bearer scheme when a token is set."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from pipeline_rules.ruleset.schema import inline_refs, schema
from pipeline_rules.server.auth import protected
from pipeline_rules.server.models import ErrorBody

REF = "#/components/schemas/{model}"
YAML_TYPES = ("application/yaml", "text/yaml")


def json_body(model: type[BaseModel], description: str) -> dict[str, Any]:
    """A route's ``openapi_extra`` declaring a JSON request body of ``model``."""
    return {"requestBody": {"required": True, "description": description, "content": {
        "application/json": {"schema": {"$ref": REF.format(model=model.__name__)}}}}}


def packaged(name: str) -> dict[str, Any]:
    """A packaged JSON Schema made self-contained for use as a component."""
    loaded = schema(name)
    flat: dict[str, Any] = inline_refs(loaded, loaded.get("$defs", {}))
    return {k: v for k, v in flat.items() if k not in ("$schema", "$id")}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for the error statuses a route can answer."""
    what = {400: "Malformed JSON (with line and column).", 401: "Missing or wrong token.",
            404: "Unknown ruleset.", 408: "Headers or body not received in time.",
            409: "The ruleset cannot be evaluated at that time (its schedule has no run after "
                 "it).",
            413: "Body, deals, or a deal's history, tasks, events or pauses over its limit.",
            415: "Unsupported content type.",
            422: "Valid JSON of the wrong shape, or a bad deal (with a JSON pointer).",
            431: "Request headers over the size or count limit.",
            503: "Too many connections, or too many requests computing.",
            504: "The work took longer than the time budget."}
    return {status: {"model": ErrorBody, "description": what[status]} for status in statuses}


#: Where one answer feeds the next request, as OpenAPI links: (from path, method, status) →
#: link name → (to path, method, the request body it gives, with runtime expressions). A
#: client (or a stateful test) follows them: the rulesets listed are evaluated, checked and
#: re-based against; a deal re-based is evaluated and checked as the answer gives it back.
LINKS: dict[tuple[str, str, str], dict[str, tuple[str, str, dict[str, str]]]] = {
    ("/v1/rulesets", "get", "200"): {
        "EvaluateAgainstServedRuleset": ("/v1/evaluate", "post",
                                         {"ruleset": "$response.body#/rulesets/0/id"}),
        "CheckAgainstServedRuleset": ("/v1/check-transition", "post",
                                      {"ruleset": "$response.body#/rulesets/0/id"}),
        "RebaseOntoServedRuleset": ("/v1/rebase", "post",
                                    {"ruleset": "$response.body#/rulesets/0/id"}),
    },
    ("/v1/rebase", "post", "200"): {
        "EvaluateRebasedDeal": ("/v1/evaluate", "post",
                                {"ruleset": "$response.body#/ruleset",
                                 "deal": "$response.body#/deal"}),
        "CheckRebasedDeal": ("/v1/check-transition", "post",
                             {"ruleset": "$response.body#/ruleset",
                              "deal": "$response.body#/deal"}),
    },
    ("/v1/check-transition", "post", "200"): {
        "RebaseCheckedDeal": ("/v1/rebase", "post",
                              {"ruleset": "$response.body#/ruleset",
                               "deal": "$request.body#/deal"}),
        "EvaluateCheckedRuleset": ("/v1/evaluate", "post",
                                   {"ruleset": "$response.body#/ruleset"}),
    },
}


def add_links(doc: dict[str, Any]) -> None:
    """Put :data:`LINKS` into the responses of ``doc`` (naming operations by their ids)."""
    paths = doc["paths"]
    for (path, method, status), links in LINKS.items():
        response = paths[path][method]["responses"][status]
        response["links"] = {
            name: {"operationId": paths[target][verb]["operationId"], "requestBody": body,
                   "description": f"The {' and '.join(body)} this call gives, sent to {target}."}
            for name, (target, verb, body) in links.items()}


def document(app: FastAPI, request_models: Iterable[type[BaseModel]],
             secured: bool) -> dict[str, Any]:
    """The whole OpenAPI document of ``app``."""
    doc = get_openapi(title=app.title, version=app.version, description=app.description,
                      routes=app.routes)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    _, defs = models_json_schema([(m, "validation") for m in request_models],
                                 ref_template=REF)
    schemas.update(defs.get("$defs", {}))
    add_links(doc)
    schemas["Deal"] = packaged("deal")
    schemas["Finding"] = packaged("finding")
    if secured:
        doc["components"]["securitySchemes"] = {"bearer": {
            "type": "http", "scheme": "bearer",
            "description": "The token in the server's --token-file."}}
        unauthorized = error_responses(401)[401]
        for path, operations in doc["paths"].items():
            if not protected(path):
                continue
            for operation in operations.values():
                operation["security"] = [{"bearer": []}]
                operation["responses"]["401"] = {
                    "description": unauthorized["description"],
                    "content": {"application/json": {
                        "schema": {"$ref": REF.format(model="ErrorBody")}}}}
    return doc
