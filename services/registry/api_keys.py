"""`/api/v1/keys`: API keys per project, with a role; shown once, stored hashed, revocable."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, ConfigDict, Field

from shared.auth import Access, Caller, ProjectChoice, Role, StoredKey, requires
from shared.httpapi import refusals

router = APIRouter(prefix="/api/v1/keys", tags=["keys"], dependencies=[requires(Role.ADMIN, Role.ADMIN)])
REFUSALS = refusals(401, 403, 404, 422, 429)


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=100, description="who or what uses it")]
    role: Role
    project: ProjectChoice = None


class KeyOut(BaseModel):
    id: str
    name: str
    project: str
    role: Role
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    key: str | None = Field(default=None, description="the key itself: shown once, when created")


def _out(stored: StoredKey, token: str | None = None) -> KeyOut:
    return KeyOut.model_validate(stored.model_dump(exclude={"secret_sha256"}) | {"key": token})


def _access(request: Request) -> Access:
    access: Access = request.app.state.access
    return access


@router.get("", responses=REFUSALS)
async def list_keys(request: Request, caller: Caller) -> list[KeyOut]:
    """The keys of the caller's project (every key, for keys of every project), newest first."""
    return [_out(k) for k in await _access(request).keys.list(caller.scope)]


@router.post("", status_code=status.HTTP_201_CREATED, responses=REFUSALS)
async def create_key(body: KeyIn, request: Request, caller: Caller) -> KeyOut:
    """A new key; the answer is the only time it is shown (only its hash is kept)."""
    project = caller.project_for(body.project)  # a project's admin: its own project, never `*`
    token, stored = await _access(request).keys.create(body.name, project, body.role, caller.name)
    return _out(stored, token)


@router.delete("/{key_id}", responses=REFUSALS)
async def revoke_key(key_id: str, request: Request, caller: Caller) -> KeyOut:
    """Revoke a key: every service refuses it within moments (sessions made with it end too)."""
    return _out(await _access(request).keys.revoke(key_id, caller.scope))
