"""Errors a request can meet, as one JSON shape: ``{"error": code, "message": ..., ...}``.

Every refusal of bad input is an :class:`ApiError` with a 4xx status; a 500 comes only from the
catch-all handler, for bugs.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError
from starlette.responses import Response

from pipeline_rules.ruleset.source import join


class ApiError(Exception):
    """A request refused with ``status``, a stable ``code`` and a message; ``extra`` adds
    fields such as ``line``/``column`` or ``path``."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        """The JSON body of the error response."""
        return {"error": self.code, "message": self.message, **self.extra}


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None
                  ) -> Response:
    """A JSON response serialised with orjson (the findings are plain dicts already)."""
    return Response(orjson.dumps(data), status, headers, media_type="application/json")


def error_response(error: ApiError, headers: dict[str, str] | None = None) -> Response:
    """The response for a refused request."""
    return json_response(error.body(), error.status, headers)


def malformed_json(err: orjson.JSONDecodeError) -> ApiError:
    """400 for a body that is not JSON, with the line and column where parsing stopped."""
    return ApiError(400, "malformed-json",
                    f"malformed JSON at line {err.lineno}, column {err.colno}: {err.msg}",
                    line=err.lineno, column=err.colno)


def invalid_request(err: ValidationError) -> ApiError:
    """422 for JSON of the wrong shape, each problem at the JSON pointer of its value."""
    problems = [{"path": join("", *(p for p in e["loc"] if not _is_tag(p))),
                 "message": e["msg"]} for e in err.errors(include_url=False)]
    first = problems[0] if problems else {"path": "", "message": "invalid request"}
    where = first["path"] or "the body"
    return ApiError(422, "invalid-request", f"{where}: {first['message']}",
                    path=first["path"], problems=problems)


def _is_tag(part: object) -> bool:
    # pydantic names the branch of a union it tried ('function-after[...]'); not a JSON key.
    return isinstance(part, str) and ("[" in part or part.startswith("function-"))
