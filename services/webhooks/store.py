"""The webhooks service's tables: subscriptions, the delivery outbox and every attempt."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import tables as t
from shared.errors import NotFound

S, D, A = t.webhook_subscriptions, t.webhook_deliveries, t.webhook_attempts


def delivery_id(subscription_id: str, event_id: str) -> str:
    """The `webhook-id`: one per event and subscription, the same on every retry."""
    return "msg_" + uuid.uuid5(uuid.NAMESPACE_URL, f"vfo:{subscription_id}:{event_id}").hex


class WebhookStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def add_subscription(
        self, project: str, url: str, event_types: list[str], sealed: str
    ) -> RowMapping:
        row = {
            "id": str(uuid.uuid4()),
            "project": project,
            "url": url,
            "event_types": json.dumps(sorted(event_types)),
            "secrets": sealed,
            "active": True,
            "disabled_reason": None,
            "created_at": datetime.now(UTC),
        }
        async with self.engine.begin() as conn:
            await conn.execute(S.insert().values(**row))
        return await self.subscription(row["id"])

    async def subscription(self, subscription_id: str) -> RowMapping:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(S).where(S.c.id == subscription_id))).mappings().first()
        if row is None:
            raise NotFound(f"no webhook subscription {subscription_id}")
        return row

    async def subscriptions(self, active_only: bool = False) -> list[RowMapping]:
        query = select(S).order_by(S.c.created_at)
        if active_only:
            query = query.where(S.c.active.is_(True))
        async with self.engine.connect() as conn:
            return list((await conn.execute(query)).mappings())

    async def update_subscription(self, subscription_id: str, **values: Any) -> RowMapping:
        async with self.engine.begin() as conn:
            await conn.execute(update(S).where(S.c.id == subscription_id).values(**values))
        return await self.subscription(subscription_id)

    async def enqueue(
        self, subscription_id: str, event_id: str, event_type: str, job_id: str, body: str
    ) -> bool:
        """Add a delivery unless this event was already queued for this subscription (redelivered event)."""
        now = datetime.now(UTC)
        row = {
            "id": delivery_id(subscription_id, event_id),
            "subscription_id": subscription_id,
            "event_type": event_type,
            "job_id": job_id,
            "payload": body,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "updated_at": now,
        }
        try:
            async with self.engine.begin() as conn:
                await conn.execute(D.insert().values(**row))
        except IntegrityError:
            return False
        return True

    async def due(self, now: datetime, limit: int = 20) -> list[RowMapping]:
        query = (
            select(D)
            .where(and_(D.c.status == "pending", D.c.next_attempt_at <= now))
            .order_by(D.c.next_attempt_at)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            return list((await conn.execute(query)).mappings())

    async def record(
        self, delivery: RowMapping, attempt: dict[str, Any], status: str, retry_at: datetime | None
    ) -> None:
        number = delivery["attempts"] + 1
        async with self.engine.begin() as conn:
            await conn.execute(A.insert().values(delivery_id=delivery["id"], attempt=number, **attempt))
            await conn.execute(
                update(D)
                .where(D.c.id == delivery["id"])
                .values(
                    attempts=number, status=status, next_attempt_at=retry_at, updated_at=datetime.now(UTC)
                )
            )

    async def deliveries(self, subscription_id: str) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(D).where(D.c.subscription_id == subscription_id).order_by(D.c.created_at.desc())
                )
            ).mappings()
            out = []
            for row in rows:
                attempts = (
                    await conn.execute(select(A).where(A.c.delivery_id == row["id"]).order_by(A.c.attempt))
                ).mappings()
                out.append(dict(row) | {"attempt_log": [dict(a) for a in attempts]})
        return out

    async def redeliver(self, subscription_id: str, delivery: str) -> None:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(D)
                .where(D.c.id == delivery, D.c.subscription_id == subscription_id)
                .values(status="pending", next_attempt_at=datetime.now(UTC), updated_at=datetime.now(UTC))
            )
        if not result.rowcount:
            raise NotFound(f"no delivery {delivery} for subscription {subscription_id}")
