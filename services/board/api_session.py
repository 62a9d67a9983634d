"""`/api/v1/session`: a browser logs in with an API key once and then carries a signed cookie.

The page reads the CSRF token from the `vfo_csrf` cookie and sends it as `X-CSRF-Token` with every
request that changes something; the session cookie itself is HttpOnly and SameSite=Strict.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from services.board.schemas import ErrorOut
from shared.auth import CSRF_COOKIE, SESSION_COOKIE, Access, Caller, Principal
from shared.errors import Unauthenticated

router = APIRouter(prefix="/api/v1/session", tags=["session"])


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: Annotated[str, Field(min_length=1, max_length=200, description="an API key, vfo_...")]


class SessionOut(BaseModel):
    key_id: str
    name: str
    project: str
    role: str
    csrf: str | None = Field(default=None, description="send as X-CSRF-Token (also in the vfo_csrf cookie)")


def _out(principal: Principal, csrf: str | None = None) -> SessionOut:
    return SessionOut(
        key_id=principal.key_id,
        name=principal.name,
        project=principal.project,
        role=principal.role,
        csrf=csrf,
    )


@router.post("", responses={401: {"model": ErrorOut}, 429: {"model": ErrorOut}})
async def log_in(body: Login, request: Request, response: Response) -> SessionOut:
    """Log in with an API key: sets the session cookie (HttpOnly) and the CSRF cookie."""
    access: Access = request.app.state.access
    access.spend(f"login:{request.client.host if request.client else '-'}", login=True)
    principal = await access.keys.verify(body.key)
    if principal is None:
        raise Unauthenticated("this key is not valid or was revoked; check it, or ask an admin for a new one")
    cookie, csrf = access.tokens.session(principal.key_id)
    common = {
        "max_age": access.tokens.session_ttl_s,
        "samesite": "strict",
        "secure": request.url.scheme == "https",
        "path": "/",
    }
    response.set_cookie(SESSION_COOKIE, cookie, httponly=True, **common)  # type: ignore[arg-type]
    response.set_cookie(CSRF_COOKIE, csrf, httponly=False, **common)  # type: ignore[arg-type]
    return _out(principal, csrf)


@router.get("", responses={401: {"model": ErrorOut}})
async def who_am_i(caller: Caller) -> SessionOut:
    """Who this key or session is: its project and role (the pages hide what the role cannot do)."""
    return _out(caller)


@router.delete(
    "", status_code=status.HTTP_204_NO_CONTENT, responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut}}
)
async def log_out(response: Response, caller: Caller) -> None:
    """End this browser's session. Like every change made with the session cookie, it needs the
    session's `X-CSRF-Token` (so another site cannot log a person out)."""
    del caller  # authenticated (with its CSRF token, for a session) is all this asks
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
