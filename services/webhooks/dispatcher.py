"""The dispatcher: public job events in, signed HTTP deliveries out, at least once.

1. A durable consumer on JOB_EVENTS turns each public event into one delivery per matching active
   subscription (the outbox), then acks. The delivery's id is derived from the event and the
   subscription, so a redelivered event queues nothing twice.
2. A sender loop posts due deliveries. 2xx: delivered. 5xx, timeouts, connection errors: retried on
   the published schedule. 429: retried after `Retry-After`. 410: the subscription is disabled.
   Other 4xx and redirects (never followed): failed. A destination that is not globally reachable
   (checked on every send, on the address then connected to: `transport.PinnedTransport`): failed.
   Every attempt is logged. A crash between the receiver's 2xx and recording it means one more
   attempt with the same `webhook-id`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx
from nats.aio.msg import Msg
from sqlalchemy.engine import RowMapping

from services.webhooks import signing, ssrf
from services.webhooks.payload import PUBLIC_TYPES, build
from services.webhooks.store import WebhookStore
from services.webhooks.transport import PinnedTransport
from shared import metrics, names
from shared.auth import EVERY_PROJECT, Tokens
from shared.consumer import Consumer, Durable, skip_unreadable
from shared.events import UnreadableEvent, parse_event, peek_type
from shared.eventstore import EventStore
from shared.settings import Settings

log = logging.getLogger(__name__)
EXCERPT = 300
# new events only: a receiver added today does not hear of last year's videos
DURABLE = Durable(
    names.JOB_EVENTS_STREAM, names.WEBHOOKS_DURABLE, names.JOB_EVENTS_SUBJECTS, deliver_new=True
)


class Dispatcher:
    def __init__(
        self,
        store: WebhookStore,
        events: EventStore,
        secrets: signing.Secrets,
        settings: Settings,
        tokens: Tokens,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """`transport` sends the deliveries: a `PinnedTransport` of the allow-list unless given."""
        self.store = store
        self.tokens = tokens
        self.link_ttl_s = settings.link_ttl_s
        self.events = events
        self.secrets = secrets
        self.transport = transport or PinnedTransport(ssrf.AllowList.parse(settings.webhook_allow_hosts))
        self.schedule = [float(s) for s in settings.webhook_backoff_s.split(",") if s.strip()]
        self.timeout = settings.webhook_timeout_s
        self.public_url = settings.public_url or f"http://{settings.host}:{settings.port}"
        self.wake = asyncio.Event()

    async def consume(self, stop: asyncio.Event) -> None:
        await Consumer(
            self.events.bus,
            [DURABLE],
            self.handle,
            batch=50,
            job_of=lambda msg: names.job_of_subject(msg.subject),
        ).run(stop)

    async def handle(self, msg: Msg) -> None:
        """One event in: a delivery per matching subscription; an event the outside never hears of,
        or a message that is not an event at all (logged, counted, skipped), queues nothing."""
        try:
            if peek_type(msg.data) not in PUBLIC_TYPES:
                return
            event = parse_event(msg.data)
        except UnreadableEvent as err:
            skip_unreadable("webhooks", msg.subject, msg.metadata.sequence.stream, err)
            return
        subscriptions = [
            s
            for s in await self.store.subscriptions(active_only=True)
            if PUBLIC_TYPES[event.type] in json.loads(s["event_types"])
        ]
        if subscriptions:
            job = (await self.events.load(event.job_id)).state
            # a project's subscribers hear of that project's jobs only
            subscriptions = [s for s in subscriptions if s["project"] in (job.project, EVERY_PROJECT)]
        if subscriptions:
            body = build(event, job, self.public_url, self._sign).model_dump_json()
            for subscription in subscriptions:
                await self.store.enqueue(
                    subscription["id"], str(event.event_id), event.type, event.job_id, body
                )
            self.wake.set()

    def _sign(self, path: str) -> str:
        return self.tokens.link(path, self.link_ttl_s)

    async def send_loop(self, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(
            transport=self.transport, follow_redirects=False, timeout=self.timeout
        ) as client:
            while not stop.is_set():
                due = await self.store.due(datetime.now(UTC))
                if due:
                    await asyncio.gather(*(self.send(client, delivery) for delivery in due))
                    continue
                self.wake.clear()
                try:
                    await asyncio.wait_for(self.wake.wait(), timeout=0.5)
                except TimeoutError:
                    continue

    async def send(self, client: httpx.AsyncClient, delivery: RowMapping) -> None:
        subscription = await self.store.subscription(delivery["subscription_id"])
        now = datetime.now(UTC)
        if not subscription["active"]:
            attempt = {
                "at": now,
                "status_code": None,
                "latency_ms": 0.0,
                "error": "the subscription is disabled",
            }
            await self.store.record(delivery, attempt, "cancelled", None)
            return
        began = time.monotonic()
        status_code, excerpt, error, retry_after, refused = None, None, None, None, False
        try:
            secret_list = self.secrets.valid(subscription["secrets"], now)
            response = await client.post(
                subscription["url"],
                content=delivery["payload"],
                headers=signing.headers(secret_list, delivery["id"], delivery["payload"], now),
            )
            status_code, excerpt = response.status_code, response.text[:EXCERPT]
            retry_after = response.headers.get("retry-after")
        except ssrf.Refused as err:  # resolved, checked and refused by the transport
            error, refused = err.message, True
        except httpx.HTTPError as err:
            error = f"{type(err).__name__}: {err}"[:EXCERPT]
        attempt = {
            "at": now,
            "status_code": status_code,
            "latency_ms": round((time.monotonic() - began) * 1000, 1),
            "response_excerpt": excerpt,
            "error": error,
        }
        status, retry_at = self._outcome(delivery, status_code, refused, retry_after, now)
        if status_code == 410:
            reason = "the receiver answered 410 Gone"
            await self.store.update_subscription(subscription["id"], active=False, disabled_reason=reason)
        await self.store.record(delivery, attempt, status, retry_at)
        metrics.WEBHOOKS.labels(status).inc()

    def _outcome(
        self,
        delivery: RowMapping,
        code: int | None,
        refused: bool,
        retry_after: str | None,
        now: datetime,
    ) -> tuple[str, datetime | None]:
        if code is not None and 200 <= code < 300:
            return "delivered", None
        if refused:
            return "failed", None
        retryable = code is None or code >= 500 or code == 429
        attempt = delivery["attempts"]  # before this one
        if not retryable or attempt >= len(self.schedule):
            return "failed", None
        delay = self.schedule[attempt]
        if code == 429 and retry_after:
            delay = max(delay, _seconds(retry_after, now))
        return "pending", now + timedelta(seconds=delay)


def _seconds(retry_after: str, now: datetime) -> float:
    """`Retry-After` as seconds or as an HTTP date."""
    try:
        return max(0.0, float(retry_after))
    except ValueError:
        try:
            return max(0.0, (parsedate_to_datetime(retry_after) - now).total_seconds())
        except (TypeError, ValueError):
            return 0.0
