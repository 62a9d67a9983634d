"""`/api/v1/registry`: every kind of configuration, versioned, with history, diff and rollback."""

from __future__ import annotations

import json
import os
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Body, Depends, Query, Request, status
from fastapi import Path as PathParam
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field, StrictInt

from services.registry import catalog
from services.registry.registry import Registry, as_yaml
from services.registry.store import Version
from shared.auth import SAFE_METHODS, Caller, Principal, Role
from shared.config import KINDS, PRESET_TYPES
from shared.errors import Forbidden, InvalidInput, NotFound
from shared.httpapi import refusals

PROJECTS = "projects"


async def _guard(request: Request, caller: Caller) -> None:
    """Everyone reads; admins write. The shared library (prompts, presets, recipes...) is changed
    by admins of every project; a project's admin changes that project's item only, and another
    project's item answers 404 as if it did not exist."""
    validating = request.url.path.endswith("/validate")
    caller.require(Role.VIEWER if request.method in SAFE_METHODS or validating else Role.ADMIN)
    if caller.everywhere:
        return
    kind, slug = request.path_params.get("kind"), request.path_params.get("slug")
    if kind == PROJECTS and slug is not None and slug != caller.project:
        raise NotFound(f"no {PROJECTS} item named {slug!r}")
    if request.method not in SAFE_METHODS and not validating and kind != PROJECTS:
        raise Forbidden(
            "the shared configuration is changed by admins of every project (*); "
            f"this key may change its project's item ({PROJECTS}/{caller.project}) only"
        )


router = APIRouter(prefix="/api/v1/registry", tags=["registry"], dependencies=[Depends(_guard)])
REFUSALS = refusals(401, 403, 404, 409, 422, 429)


def _visible(caller: Principal, version: Version) -> bool:
    return version.kind != PROJECTS or caller.sees(version.slug)


Slug = Annotated[str, "item name"]


def _registry(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    return registry


Reg = Annotated[Registry, Depends(_registry)]


class ItemOut(BaseModel):
    kind: str
    slug: str
    version: int
    active: bool
    note: str
    created_at: str
    data: dict[str, Any]
    key_set: bool | None = None  # providers: is the environment variable that holds the key set?


class VersionsOut(BaseModel):
    items: list[ItemOut]


def _out(version: Version) -> ItemOut:
    key_env = version.data.get("key_env") if version.kind == "providers" else None
    return ItemOut(
        kind=version.kind,
        slug=version.slug,
        version=version.version,
        active=version.active,
        note=version.note,
        created_at=version.created_at.isoformat(),
        data=version.data,
        key_set=bool(os.environ.get(key_env)) if key_env else None,
    )


class Check(BaseModel):
    valid: bool
    errors: list[dict[str, str]]


# versions count from 1 and are stored as 32-bit integers: a larger number is refused, not a 500
VERSION = {"ge": 1, "le": 2**31 - 1, "description": "a version number, from 1"}


class Rollback(BaseModel):
    version: Annotated[StrictInt, Field(**VERSION)]


@router.get("")
async def kinds(registry: Reg, caller: Caller) -> dict[str, int]:
    """The kinds of configuration and how many items each has."""
    counts = dict.fromkeys(KINDS, 0)
    for version in await registry.store.latest():
        counts[version.kind] += _visible(caller, version)
    return counts


@router.get("/map")
async def execution_map(registry: Reg) -> list[dict[str, Any]]:
    """The execution map: what each recipe step uses, with versions."""
    return await registry.execution_map()


@router.get("/export", response_class=PlainTextResponse)
async def export(
    registry: Reg, caller: Caller, format: Annotated[str, Query(pattern="^(yaml|json)$")] = "yaml"
) -> PlainTextResponse:
    document = await registry.export()
    if PROJECTS in document:
        document[PROJECTS] = [p for p in document[PROJECTS] if caller.sees(str(p.get("slug")))]
    if format == "json":
        return PlainTextResponse(
            json.dumps(document, indent=2, ensure_ascii=False), media_type="application/json"
        )
    return PlainTextResponse(
        yaml.safe_dump(document, allow_unicode=True, sort_keys=False), media_type="application/yaml"
    )


@router.post("/import", responses=REFUSALS)
async def import_document(
    registry: Reg, caller: Caller, body: Annotated[str, Body(media_type="text/plain")]
) -> dict[str, int]:
    """Import a YAML or JSON export: every item is checked before anything changes."""
    caller.require_every_project("importing configuration")
    try:
        document = yaml.safe_load(body)
    except yaml.YAMLError as err:
        raise InvalidInput("document", f"is not YAML or JSON: {err}") from err
    return await registry.import_(document)


@router.get("/schemas/{kind}", responses=REFUSALS)
async def schemas(kind: str) -> dict[str, dict[str, Any]]:
    """The JSON schema of what an item of `kind` holds, for the admin's generated form: keyed by the
    slug's prefix (`""` for most kinds; a preset's type and a dot, `voice.`, for presets)."""
    catalog.kind_prefix(kind)  # refuses unknown kinds
    model = KINDS[kind][1]
    if model is not None:
        return {"": model.model_json_schema()}
    return {f"{name}.": preset.model_json_schema() for name, preset in PRESET_TYPES.items()}


@router.get("/{kind}", responses=REFUSALS)
async def list_items(kind: str, registry: Reg, caller: Caller) -> VersionsOut:
    catalog.kind_prefix(kind)
    return VersionsOut(items=[_out(v) for v in await registry.store.latest(kind) if _visible(caller, v)])


@router.post("/{kind}", status_code=status.HTTP_201_CREATED, responses=REFUSALS)
async def create_item(
    kind: str, registry: Reg, caller: Caller, data: Annotated[dict[str, Any], Body()]
) -> ItemOut:
    if kind == PROJECTS and not caller.sees(str(data.get("slug"))):
        raise Forbidden(f"this key belongs to project {caller.project!r}; it can create that project only")
    return _out(await registry.create(kind, data))


@router.post("/{kind}/validate")
async def validate_item(kind: str, registry: Reg, data: Annotated[dict[str, Any], Body()]) -> Check:
    """Live validation for the admin page: the same checks as a save, nothing saved."""
    try:
        await registry.check(kind, str(data.get("slug") or ""), data)
    except InvalidInput as err:
        return Check(valid=False, errors=err.errors)
    return Check(valid=True, errors=[])


@router.get("/{kind}/{slug}", responses=REFUSALS)
async def get_item(kind: str, slug: str, registry: Reg) -> ItemOut:
    catalog.kind_prefix(kind)
    return _out(await registry.store.require(kind, slug))


@router.put("/{kind}/{slug}", responses=REFUSALS)
async def save_item(kind: str, slug: str, registry: Reg, data: Annotated[dict[str, Any], Body()]) -> ItemOut:
    """Save a new version (the old ones stay in the history)."""
    if data.get("slug", slug) != slug:
        raise InvalidInput("slug", f"is {slug!r} in the address; rename by creating a new item")
    await registry.store.require(kind, slug)
    return _out(
        await registry.save(kind, slug, data, note=str(data.pop("note", "")) if "note" in data else "edited")
    )


@router.get("/{kind}/{slug}/versions", responses=REFUSALS)
async def versions(kind: str, slug: str, registry: Reg) -> VersionsOut:
    return VersionsOut(items=[_out(v) for v in await registry.store.versions(kind, slug)])


@router.get("/{kind}/{slug}/versions/{number}", responses=REFUSALS)
async def one_version(
    kind: str, slug: str, number: Annotated[int, PathParam(**VERSION)], registry: Reg
) -> ItemOut:
    return _out(await registry.store.version(kind, slug, number))


@router.get("/{kind}/{slug}/diff", response_class=PlainTextResponse, responses=REFUSALS)
async def diff(
    kind: str,
    slug: str,
    registry: Reg,
    old: Annotated[int, Query(alias="from", **VERSION)],
    new: Annotated[int, Query(alias="to", **VERSION)],
) -> PlainTextResponse:
    """A unified diff between two versions (as YAML)."""
    return PlainTextResponse(await registry.diff(kind, slug, old, new))


@router.get("/{kind}/{slug}/yaml", response_class=PlainTextResponse, responses=REFUSALS)
async def as_text(kind: str, slug: str, registry: Reg) -> PlainTextResponse:
    return PlainTextResponse(as_yaml((await registry.store.require(kind, slug)).data))


@router.post("/{kind}/{slug}/rollback", responses=REFUSALS)
async def rollback(kind: str, slug: str, body: Rollback, registry: Reg) -> ItemOut:
    """Make an old version current again, as a new version (history is never rewritten)."""
    return _out(await registry.rollback(kind, slug, body.version))


@router.post("/{kind}/{slug}/activate", responses=REFUSALS)
async def activate(kind: str, slug: str, registry: Reg) -> ItemOut:
    return _out(await registry.set_active(kind, slug, True))


@router.post("/{kind}/{slug}/deactivate", responses=REFUSALS)
async def deactivate(kind: str, slug: str, registry: Reg) -> ItemOut:
    """Refused (409) while an active recipe or project uses the item."""
    return _out(await registry.set_active(kind, slug, False))
