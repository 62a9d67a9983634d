"""The registry's versions table: every save adds a version; nothing is ever overwritten."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import tables as t
from shared.errors import ConcurrencyConflict, NotFound

V = t.registry_versions


@dataclass(frozen=True)
class Version:
    kind: str
    slug: str
    version: int
    data: dict[str, Any]
    active: bool
    note: str
    created_at: datetime


def _row(row: Any) -> Version:
    return Version(
        row.kind, row.slug, row.version, json.loads(row.data), row.active, row.note, row.created_at
    )


class RegistryStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def current(self, kind: str, slug: str) -> Version | None:
        query = select(V).where(V.c.kind == kind, V.c.slug == slug).order_by(V.c.version.desc()).limit(1)
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return _row(row) if row else None

    async def require(self, kind: str, slug: str) -> Version:
        found = await self.current(kind, slug)
        if found is None:
            raise NotFound(f"no {kind} item named {slug!r}")
        return found

    async def latest(self, kind: str | None = None) -> list[Version]:
        """The current version of every item (of one kind, or all)."""
        newest = select(V.c.kind, V.c.slug, func.max(V.c.version).label("version")).group_by(
            V.c.kind, V.c.slug
        )
        if kind:
            newest = newest.where(V.c.kind == kind)
        sub = newest.subquery()
        query = (
            select(V)
            .join(sub, and_(V.c.kind == sub.c.kind, V.c.slug == sub.c.slug, V.c.version == sub.c.version))
            .order_by(V.c.kind, V.c.slug)
        )
        async with self.engine.connect() as conn:
            return [_row(row) for row in await conn.execute(query)]

    async def versions(self, kind: str, slug: str) -> list[Version]:
        query = select(V).where(V.c.kind == kind, V.c.slug == slug).order_by(V.c.version.desc())
        async with self.engine.connect() as conn:
            rows = [_row(row) for row in await conn.execute(query)]
        if not rows:
            raise NotFound(f"no {kind} item named {slug!r}")
        return rows

    async def version(self, kind: str, slug: str, number: int) -> Version:
        query = select(V).where(V.c.kind == kind, V.c.slug == slug, V.c.version == number)
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            raise NotFound(f"{kind} {slug!r} has no version {number}")
        return _row(row)

    async def save(self, kind: str, slug: str, data: dict[str, Any], active: bool, note: str) -> Version:
        """Add the next version. Two saves racing: one gets the number, the other a conflict to retry."""
        async with self.engine.begin() as conn:
            number = (
                int(
                    await conn.scalar(
                        select(func.coalesce(func.max(V.c.version), 0)).where(
                            V.c.kind == kind, V.c.slug == slug
                        )
                    )
                    or 0
                )
                + 1
            )
            stored = {k: v for k, v in data.items() if k not in ("version", "active")} | {"slug": slug}
            row = {
                "kind": kind,
                "slug": slug,
                "version": number,
                "data": json.dumps(stored, ensure_ascii=False, sort_keys=True),
                "active": active,
                "note": note[:200],
                "created_at": datetime.now(UTC),
            }
            try:
                await conn.execute(V.insert().values(**row))
            except IntegrityError as err:
                raise ConcurrencyConflict(f"{kind}.{slug}", number - 1) from err
        return Version(kind, slug, number, stored, active, note[:200], row["created_at"])

    async def empty(self) -> bool:
        async with self.engine.connect() as conn:
            return not await conn.scalar(select(func.count()).select_from(V))
