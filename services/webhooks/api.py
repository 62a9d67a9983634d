"""`/api/v1/webhooks`: subscriptions, their delivery log, redelivery and secret rotation."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import RowMapping

from services.webhooks import signing, ssrf
from services.webhooks.payload import schema
from services.webhooks.store import WebhookStore
from shared.auth import Caller, Principal, ProjectChoice, Role, requires
from shared.errors import NotFound
from shared.httpapi import refusals

# webhooks are an admin's business, reading them too: deliveries hold receivers' answers
router = APIRouter(
    prefix="/api/v1/webhooks", tags=["webhooks"], dependencies=[requires(Role.ADMIN, Role.ADMIN)]
)
REFUSALS = refusals(401, 403, 404, 422, 429)
EventType = Literal["job.completed", "job.failed", "job.cancelled", "step.completed"]


class Deps:
    def __init__(self, store: WebhookStore, secrets: signing.Secrets, allow: ssrf.AllowList) -> None:
        self.store = store
        self.secrets = secrets
        self.allow = allow


def _deps(request: Request) -> Deps:
    deps: Deps = request.app.state.webhooks
    return deps


D = Annotated[Deps, Depends(_deps)]


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(max_length=2000)
    event_types: list[EventType] = Field(min_length=1, default=["job.completed", "job.failed"])
    project: ProjectChoice = None


class SubscriptionOut(BaseModel):
    id: str
    project: str
    url: str
    event_types: list[str]
    active: bool
    disabled_reason: str | None
    created_at: datetime
    secret: str | None = Field(default=None, description="shown once, when created or rotated")


class ActiveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    active: bool


def _out(row: RowMapping, secret: str | None = None) -> SubscriptionOut:
    return SubscriptionOut.model_validate(
        dict(row) | {"event_types": json.loads(row["event_types"]), "secret": secret}
    )


@router.get("/schema")
async def payload_schema() -> dict[str, Any]:
    """The JSON Schema of every webhook body."""
    return schema()


async def _owned(deps: Deps, caller: Principal, subscription_id: str) -> RowMapping:
    """The subscription, if the caller's project owns it; the same 404 as an unknown id otherwise."""
    try:
        row = await deps.store.subscription(subscription_id)
    except NotFound:
        row = None
    if row is None or not caller.sees(row["project"]):
        raise NotFound(f"no webhook subscription {subscription_id}")
    return row


@router.post("", status_code=status.HTTP_201_CREATED, responses=REFUSALS)
async def subscribe(body: SubscriptionIn, deps: D, caller: Caller) -> SubscriptionOut:
    """Subscribe a URL; the answer holds the signing secret, which is never shown again."""
    project = caller.project_for(body.project)
    await ssrf.check(body.url, deps.allow)
    secret = signing.new_secret()
    sealed = deps.secrets.seal([{"secret": secret, "expires_at": None}])
    row = await deps.store.add_subscription(project, body.url, list(body.event_types), sealed)
    return _out(row, secret)


@router.get("")
async def subscriptions(deps: D, caller: Caller) -> list[SubscriptionOut]:
    """The subscriptions of the caller's project (of every project, for keys of every project)."""
    return [_out(row) for row in await deps.store.subscriptions() if caller.sees(row["project"])]


@router.get("/{subscription_id}", responses=REFUSALS)
async def subscription(subscription_id: str, deps: D, caller: Caller) -> SubscriptionOut:
    return _out(await _owned(deps, caller, subscription_id))


@router.patch("/{subscription_id}", responses=REFUSALS)
async def set_active(subscription_id: str, body: ActiveIn, deps: D, caller: Caller) -> SubscriptionOut:
    await _owned(deps, caller, subscription_id)
    reason = None if body.active else "disabled by a person"
    return _out(
        await deps.store.update_subscription(subscription_id, active=body.active, disabled_reason=reason)
    )


@router.post("/{subscription_id}/rotate", responses=REFUSALS)
async def rotate(subscription_id: str, deps: D, caller: Caller) -> SubscriptionOut:
    """A new secret (shown once); the old one keeps signing for 24 hours, so receivers can switch."""
    row = await _owned(deps, caller, subscription_id)
    sealed, fresh = deps.secrets.rotated(row["secrets"], datetime.now(UTC))
    return _out(await deps.store.update_subscription(subscription_id, secrets=sealed), fresh)


@router.get("/{subscription_id}/deliveries", responses=REFUSALS)
async def deliveries(
    subscription_id: str,
    deps: D,
    caller: Caller,
    only: Annotated[Literal["pending", "delivered", "failed"] | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[dict[str, Any]]:
    """Deliveries, newest first, a page at a time, with their attempts (status codes, latency,
    response excerpt); `status` filters."""
    await _owned(deps, caller, subscription_id)
    found = [d for d in await deps.store.deliveries(subscription_id) if only in (None, d["status"])]
    return [{k: v for k, v in d.items() if k != "payload"} for d in found[offset : offset + limit]]


@router.post("/{subscription_id}/deliveries/{delivery_id}/redeliver", status_code=202, responses=REFUSALS)
async def redeliver(
    subscription_id: str, delivery_id: str, request: Request, deps: D, caller: Caller
) -> dict[str, str]:
    """Send a delivery again, with the same `webhook-id`."""
    await _owned(deps, caller, subscription_id)
    await deps.store.redeliver(subscription_id, delivery_id)
    request.app.state.wake.set()
    return {"status": "queued", "webhook_id": delivery_id}
