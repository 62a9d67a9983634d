"""Uploads belong to a project, like jobs: other projects see them exactly as ids that do not exist.

The owner travels with the file: a header of its entry in the object store (`Vfo-Project`), so it
is written in the same put, backed up and restored with the file, and needs no table beside the
board's projection. An upload made by a key of every project without naming a project belongs to
every project (`*`: the instance's own music for a template, say).

Uploads stored before they had owners carry no header: a project owns such an upload when one of
its jobs uses it (keys of every project see them all).
"""

from __future__ import annotations

from pathlib import Path

from nats.js.api import ObjectMeta
from sqlalchemy import or_, select

from services.board.context import BoardContext
from shared.artifacts import OWNER_HEADER
from shared.auth import EVERY_PROJECT
from shared.db import tables as t


async def put(ctx: BoardContext, object_name: str, path: Path, project: str) -> None:
    """Store an upload under `object_name`, owned by `project` (or `*`)."""
    obs = await ctx.artifacts.bus.artifacts()
    meta = ObjectMeta(name=object_name, headers={OWNER_HEADER: [project]})  # headers as in Go: lists
    with path.open("rb") as handle:
        await obs.put(object_name, handle, meta=meta)


async def _used_by(ctx: BoardContext, upload_id: str, project: str) -> bool:
    """Whether a job of `project` uses the upload (as a background or as music)."""
    jobs = t.jobs.c
    # the id is 32 hex digits (checked by every route), so it needs no LIKE escaping
    query = (
        select(jobs.id)
        .where(
            jobs.project == project, or_(jobs.images.contains(upload_id), jobs.options.contains(upload_id))
        )
        .limit(1)
    )
    async with ctx.engine.connect() as conn:
        return (await conn.scalar(query)) is not None


async def visible(ctx: BoardContext, object_name: str, upload_id: str, project: str | None) -> bool:
    """Whether the upload exists for `project` (None: for every project, as keys of every project see).

    Used both for a caller's scope (downloads) and for a job's project (an upload a job may use)."""
    stored, owner = await ctx.artifacts.owner(object_name)
    if not stored:
        return False
    if project is None or owner in (project, EVERY_PROJECT):
        return True
    return owner is None and await _used_by(ctx, upload_id, project)
