"""HTTP error handling shared by every service API: every refusal is an ErrorOut body, never a trace."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.bus import TRANSIENT, BusAway, impatient
from shared.configstore import ConfigUnavailable
from shared.errors import (
    Forbidden,
    InfrastructureError,
    InvalidInput,
    NotFound,
    RateLimited,
    TransitionRefused,
    Unauthenticated,
)

log = logging.getLogger(__name__)


class ErrorOut(BaseModel):
    """Every error an API returns: a stable `code`, a sentence for people, the field at fault."""

    code: str
    message: str
    field: str | None = None
    errors: list[dict[str, str]] = Field(default_factory=list)
    reason: str | None = Field(default=None, description="a refusal's reason as a code of shared.said")
    params: dict[str, str | int | float] = Field(default_factory=dict, description="the reason's values")


def refusals(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the error codes a route may answer (every body an ErrorOut)."""
    return {code: {"model": ErrorOut} for code in codes}


RETRY_AFTER_S = 5
"""What a 503 asks a client to wait before trying again (the bus or the database is away)."""

_FRIENDLY = {
    "string_too_short": "is required and cannot be empty",
    "missing": "is required",
    "extra_forbidden": "is not a field of this request; remove it",
    "bool_type": "must be true or false (a JSON boolean, not a string or a number)",
    "int_type": "must be a whole number (a JSON number, not a string)",
    "model_attributes_type": "must be a JSON object (sent with Content-Type: application/json)",
}


def _field(error: Any) -> str:
    if error.get("type") == "json_invalid":  # its location ends with a character position
        return "body"
    loc = tuple(error["loc"])
    # the first part says where the value was sent (body, query...); a field may be named "path" too
    where = loc[1:] if loc and loc[0] in ("body", "query", "path", "header", "cookie") else loc
    return ".".join(str(p) for p in where) or "body"


def _message(error: Any) -> str:
    kind = str(error.get("type", ""))
    if kind == "json_invalid":
        ctx = error.get("ctx") or {}
        loc = tuple(error.get("loc") or ())
        at = f" at character {loc[-1]}" if loc and isinstance(loc[-1], int) else ""
        reason = f" ({ctx['error']})" if isinstance(ctx, dict) and ctx.get("error") else ""
        return f"is not valid JSON{at}{reason}; send a JSON object"
    if kind == "string_too_long":
        ctx = error.get("ctx") or {}
        limit = ctx.get("max_length") if isinstance(ctx, dict) else None
        return f"is too long: at most {limit} characters; shorten it"
    if kind in _FRIENDLY:
        return _FRIENDLY[kind]
    return str(error.get("msg", "is not valid")).removeprefix("Value error, ")


def describe(errors: Sequence[Any]) -> list[dict[str, str]]:
    """Pydantic's errors as {field, message} pairs a person can act on."""
    return [{"field": _field(e), "message": _message(e)} for e in errors]


def _body(status: int, body: ErrorOut) -> JSONResponse:
    return JSONResponse(status_code=status, content=body.model_dump())


def _unavailable(body: ErrorOut) -> JSONResponse:
    """503: an outage is transient, so the answer says when to try again."""
    response = _body(503, body)
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


class Impatient:
    """A request does not wait for NATS to come back: while it is away, the answer is 503 with
    Retry-After at once (the client tries again; nothing it sent was stored)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with impatient():
            await self.app(scope, receive, send)


def install(app: FastAPI) -> None:
    app.add_middleware(Impatient)

    async def _away(request: Request, exc: Exception) -> JSONResponse:
        log.warning("NATS is away during %s %s: %r", request.method, request.url.path, exc)
        message = f"the message bus is unavailable; nothing was changed; try again in {RETRY_AFTER_S} s"
        return _unavailable(ErrorOut(code="unavailable", message=message))

    for kind in TRANSIENT:  # raised by a NATS call not made through Bus.patiently
        app.add_exception_handler(kind, _away)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = describe(exc.errors())
        first = errors[0] if errors else {"field": "body", "message": "is not valid JSON"}
        message = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        return _body(
            422, ErrorOut(code="invalid_input", message=message, field=first["field"], errors=errors)
        )

    @app.exception_handler(InvalidInput)
    async def _invalid_input(_: Request, exc: InvalidInput) -> JSONResponse:
        message = "; ".join(f"{e['field']}: {e['message']}" for e in exc.errors[:5])
        return _body(422, ErrorOut(code="invalid_input", message=message, field=exc.field, errors=exc.errors))

    @app.exception_handler(TransitionRefused)
    async def _refused(_: Request, exc: TransitionRefused) -> JSONResponse:
        said = exc.said
        body = ErrorOut(code="transition_refused", message=str(exc), field="state")
        if said is not None:
            body = body.model_copy(update={"reason": said.code, "params": dict(said.params)})
        return _body(409, body)

    @app.exception_handler(NotFound)
    async def _missing(_: Request, exc: NotFound) -> JSONResponse:
        return _body(404, ErrorOut(code="not_found", message=str(exc)))

    @app.exception_handler(Unauthenticated)
    async def _unauthenticated(_: Request, exc: Unauthenticated) -> JSONResponse:
        response = _body(401, ErrorOut(code="unauthenticated", message=str(exc), field="Authorization"))
        response.headers["WWW-Authenticate"] = 'Bearer realm="video-factory"'
        return response

    @app.exception_handler(Forbidden)
    async def _forbidden(_: Request, exc: Forbidden) -> JSONResponse:
        return _body(403, ErrorOut(code="forbidden", message=str(exc)))

    @app.exception_handler(RateLimited)
    async def _limited(_: Request, exc: RateLimited) -> JSONResponse:
        response = _body(429, ErrorOut(code="rate_limited", message=str(exc)))
        response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.exception_handler(ConfigUnavailable)
    async def _config(_: Request, exc: ConfigUnavailable) -> JSONResponse:
        return _unavailable(ErrorOut(code="config_unavailable", message=str(exc)))

    @app.exception_handler(InfrastructureError)
    async def _infra(request: Request, exc: InfrastructureError) -> JSONResponse:
        if isinstance(exc, BusAway):
            return await _away(request, exc)
        log.error("infrastructure error in %s %s: %s", request.method, request.url.path, exc)
        message = f"a backing service (bus or database) is unavailable; try again in {RETRY_AFTER_S} s"
        return _unavailable(ErrorOut(code="unavailable", message=message))

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error in %s %s", request.method, request.url.path, exc_info=exc)
        message = "something went wrong on our side; it was logged, and nothing you sent was lost"
        return _body(500, ErrorOut(code="internal", message=message))

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(
            exc.status_code, "http_error"
        )
        return _body(exc.status_code, ErrorOut(code=code, message=str(exc.detail)))


class JsonTooLarge:
    """Starlette's body-size limit answers 413 in plain text before any handler runs; send our
    error body instead, so every error the API returns has the same shape."""

    BODY = ErrorOut(
        code="too_large",
        message="the request is too large: JSON up to 1 MB, a batch file up to 5 MB, an image up to 25 MB",
    )

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        replaced = False

        async def reply(message: Message) -> None:
            nonlocal replaced
            if message["type"] == "http.response.start" and message["status"] == 413:
                headers = dict(message.get("headers", []))
                if headers.get(b"content-type", b"").startswith(b"text/plain"):
                    replaced = True
                    body = self.BODY.model_dump_json().encode()
                    length = str(len(body)).encode()
                    start = [(b"content-type", b"application/json"), (b"content-length", length)]
                    await send({"type": "http.response.start", "status": 413, "headers": start})
                    await send({"type": "http.response.body", "body": body})
                    return
            if not replaced:
                await send(message)

        await self.app(scope, receive, reply)
