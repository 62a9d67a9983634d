"""What only admins of every project see: `GET /api/v1/admin/unreadable-events`, the messages on
JOB_EVENTS the projector could not read or apply (where, why, when), which it skipped."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy import func, select

from services.board.context import Ctx
from services.board.queries import aware
from shared.auth import Caller
from shared.db import tables as t


async def _admins(caller: Caller) -> None:
    caller.require_every_project("the event stream's unreadable entries")


router = APIRouter(prefix="/api/v1/admin", tags=["admin"], dependencies=[Depends(_admins)])


class UnreadableEventOut(BaseModel):
    seq: int
    subject: str
    job_id: str | None
    reason: str
    recorded_at: datetime


class UnreadableEvents(BaseModel):
    total: int
    items: list[UnreadableEventOut]


@router.get("/unreadable-events")
async def unreadable_events(ctx: Ctx, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> UnreadableEvents:
    """The newest entries first; `total` counts them all."""
    u = t.unreadable_events.c
    async with ctx.engine.connect() as conn:
        total = int(await conn.scalar(select(func.count()).select_from(t.unreadable_events)) or 0)
        rows = (
            await conn.execute(select(t.unreadable_events).order_by(u.seq.desc()).limit(limit))
        ).mappings()
        items = [
            UnreadableEventOut.model_validate(dict(row) | {"recorded_at": aware(row["recorded_at"])})
            for row in rows
        ]
    return UnreadableEvents(total=total, items=items)
