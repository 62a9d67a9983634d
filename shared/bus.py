"""The NATS JetStream bus: the only way services talk to each other.

`Bus.ensure()` creates (or updates) the streams and buckets every service relies on:
`JOB_EVENTS` (limits retention, the source of truth), `WORK` (work-queue retention), KV `config`,
KV `auth` (API keys) and object store `artifacts`. Appends are guarded by
`Nats-Expected-Last-Subject-Sequence` and deduplicated by `Nats-Msg-Id`.

NATS outages are transient. The connection reconnects for ever, buffers nothing while away (a
publish fails at once instead of being sent late), and `Bus.patiently` runs an operation again once
the server is back. How long it waits is the context's `PATIENCE`: the services' workers wait
(`VFO_BUS_PATIENCE_S`, 300 s by default), an HTTP request does not (`impatient()`: it answers 503
with Retry-After). `Bus.follow` keeps a long-lived reader (an ordered consumer, a KV watcher)
going across outages: the server forgets those, so they start again after each reconnection.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Any, TypeVar

import nats
import nats.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js import api as js_api
from nats.js.errors import APIError, BadRequestError, ServiceUnavailableError
from nats.js.kv import KeyValue
from nats.js.object_store import ObjectStore

from shared import metrics, names, telemetry
from shared.errors import ConcurrencyConflict, InfrastructureError

log = logging.getLogger(__name__)

WRONG_LAST_SEQUENCE = 10071
STREAM_NAME_IN_USE = 10058
READ_BATCH = 1000  # messages per batched direct get
T = TypeVar("T")

TRANSIENT: tuple[type[Exception], ...] = (
    TimeoutError,  # nats' own TimeoutError is one too: no answer in time
    nats.errors.NoRespondersError,  # JetStream not (yet) serving: a server restarting
    nats.errors.OutboundBufferLimitError,  # a publish while disconnected (nothing is buffered)
    nats.errors.StaleConnectionError,
    nats.errors.ConnectionReconnectingError,
    ServiceUnavailableError,
)
"""What NATS raises while it is away or coming back: worth trying again once it is back."""


def _patience_from_env() -> float:
    raw = os.environ.get("VFO_BUS_PATIENCE_S", "300")
    try:
        return max(0.0, float(raw))
    except ValueError:
        log.warning("VFO_BUS_PATIENCE_S=%r is not a number of seconds; using 300", raw)
        return 300.0


DEFAULT_PATIENCE_S = _patience_from_env()
PATIENCE: contextvars.ContextVar[float] = contextvars.ContextVar(
    "bus_patience",
    default=DEFAULT_PATIENCE_S,
)
"""How long an operation waits for NATS to come back (seconds) before it raises BusAway."""


@contextlib.contextmanager
def impatient() -> Iterator[None]:
    """Inside: fail at once while NATS is away (an HTTP request answers 503 instead of hanging)."""
    token = PATIENCE.set(0.0)
    try:
        yield
    finally:
        PATIENCE.reset(token)


class BusAway(InfrastructureError):
    """NATS did not answer (it is away, or still starting) for as long as the caller could wait."""


BUS_AWAY: tuple[type[Exception], ...] = (BusAway, *TRANSIENT)
"""Everything that means "NATS is away": the work is interrupted, not failed."""


class Bus:
    def __init__(self, nc: NATS, service: str, replicas: int = 1) -> None:
        self.nc = nc
        self.js: JetStreamContext = nc.jetstream(timeout=10)
        self.service = service
        self.replicas = replicas
        self._kv: KeyValue | None = None
        self._auth: KeyValue | None = None
        self._obs: ObjectStore | None = None
        self._inbox = ""
        self._replies: Subscription | None = None
        self._waiting: dict[str, asyncio.Queue[Msg]] = {}
        self.up = asyncio.Event()  # connected (cleared while NATS is away)
        self.up.set()
        self.reconnects = 0  # how many times the connection came back
        self._changed = asyncio.Event()  # set (and replaced) at every disconnection and reconnection
        self._away_since: float | None = None
        self.away_s = 0.0  # the total time NATS was away, for whoever wants to report it
        self._closing = False

    @classmethod
    async def connect(cls, url: str, service: str, replicas: int = 1) -> Bus:
        bus: Bus | None = None

        async def disconnected() -> None:
            if bus is not None:
                bus._went_away()

        async def reconnected() -> None:
            if bus is not None:
                bus._came_back()

        async def failed(err: Exception) -> None:
            # while the server is away, every reconnection attempt fails: the two lines above say it
            if isinstance(err, (*TRANSIENT, OSError)):
                log.debug("%s: NATS client: %r", service, err)
            else:
                log.warning("%s: NATS client: %r", service, err)

        try:
            nc = await nats.connect(
                url,
                name=f"vfo-{service}",
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.5,
                connect_timeout=5,
                pending_size=0,  # while away, a publish fails at once rather than go out late
                disconnected_cb=disconnected,
                reconnected_cb=reconnected,
                error_cb=failed,
            )
        except Exception as err:  # nats raises several unrelated types for an unreachable server
            raise InfrastructureError(f"cannot reach NATS at {url}: {err}; is the server running?") from err
        bus = cls(nc, service, replicas)
        return bus

    def _went_away(self) -> None:
        if self._closing:  # closed on purpose: not an outage
            return
        if self._away_since is None:
            self._away_since = time.monotonic()
            log.warning("%s: NATS is away; work goes on and will be reported when it is back", self.service)
        self.up.clear()
        self._changed.set()
        self._changed = asyncio.Event()

    def _came_back(self) -> None:
        if self._away_since is not None:
            away = time.monotonic() - self._away_since
            self.away_s += away
            self._away_since = None
            log.warning("%s: NATS is back after %.1f s", self.service, away)
        self.reconnects += 1
        self.up.set()
        self._changed.set()
        self._changed = asyncio.Event()

    def away_for(self) -> float:
        """The time NATS has been away so far, counting an outage still going on."""
        ongoing = time.monotonic() - self._away_since if self._away_since is not None else 0.0
        return self.away_s + ongoing

    async def patiently(self, what: str, operation: Callable[[], Awaitable[T]]) -> T:
        """Run `operation`; while NATS is away or still starting, run it again once it is back,
        for up to the context's PATIENCE seconds; then raise BusAway naming `what`."""
        patience = PATIENCE.get()
        deadline = time.monotonic() + patience
        pause = 0.1
        while True:
            if not self.up.is_set() and patience > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.up.wait(), timeout=max(0.0, deadline - time.monotonic()))
            try:
                return await operation()
            except TRANSIENT as err:
                left = deadline - time.monotonic()
                if left <= 0 or self.nc.is_closed:
                    waited = f" (waited {patience:.0f} s)" if patience else ""
                    raise BusAway(f"NATS is unavailable while {what}{waited}: {err!r}") from err
                log.info("%s: NATS did not answer while %s (%r); trying again", self.service, what, err)
                # connected but not serving yet (JetStream recovering its streams): back off a little
                await self._next_change(min(pause, left))
                pause = min(pause * 2, 2.0)

    async def recover(self) -> None:
        """After NATS failed a call: wait until it is back, or (connected, but JetStream not serving
        yet) a moment, so a loop that calls again does not spin."""
        if not self.up.is_set():
            await self.up.wait()
        else:
            await self._next_change(1.0)

    async def _next_change(self, timeout: float) -> None:
        """Wait for the connection to go away or come back, or for `timeout` seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout=timeout)

    async def follow(self, what: str, reader: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run `reader` (a long-lived reader that ends only when cancelled) and start it again after
        every reconnection, or when NATS failed it: the server forgets ordered consumers and
        watchers across a restart, and nats' own reset gives up during a long outage."""
        while True:
            seen = self.reconnects
            task = asyncio.create_task(reader(), name=what)
            changed = asyncio.create_task(self._wait_reconnected(seen))
            try:
                await asyncio.wait({task, changed}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                changed.cancel()
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, *TRANSIENT):
                        await task
            if task.done() and not task.cancelled():
                err = task.exception()
                if err is None:
                    return
                if not isinstance(err, (*TRANSIENT, BusAway)):
                    raise err
                log.warning(
                    "%s: %s stopped while NATS was away (%r); starting it again", self.service, what, err
                )
                await self.up.wait()
                await self._next_change(1.0)  # JetStream may still be starting: not straight away
            else:
                log.info("%s: NATS is back; starting %s again", self.service, what)

    async def _wait_reconnected(self, seen: int) -> None:
        while self.reconnects == seen:
            await self._changed.wait()

    async def close(self) -> None:
        """Every publish here is awaited, so nothing is in flight: close without draining."""
        self._closing = True
        if not self.nc.is_closed:
            await self.nc.close()

    async def ensure(self) -> None:
        """Create or update the streams and buckets. Safe to run from every service at start."""

        def stream(
            name: str, subjects: str, retention: js_api.RetentionPolicy, **more: Any
        ) -> js_api.StreamConfig:
            return js_api.StreamConfig(
                name=name,
                subjects=[subjects],
                retention=retention,
                storage=js_api.StorageType.FILE,
                num_replicas=self.replicas,
                **more,
            )

        limits, work_queue = js_api.RetentionPolicy.LIMITS, js_api.RetentionPolicy.WORK_QUEUE
        for config in (
            stream(
                names.JOB_EVENTS_STREAM,
                names.JOB_EVENTS_SUBJECTS,
                limits,
                duplicate_window=120.0,
                allow_direct=True,
            ),
            stream(names.WORK_STREAM, names.WORK_SUBJECTS, work_queue, duplicate_window=120.0),
            stream(names.GIVE_UPS_STREAM, names.GIVE_UPS_SUBJECTS, work_queue, max_age=7 * 24 * 3600.0),
        ):
            await self._ensure_stream(config)
        self._kv = await self.js.create_key_value(
            bucket=names.CONFIG_BUCKET, history=64, storage=js_api.StorageType.FILE, replicas=self.replicas
        )
        self._auth = await self.js.create_key_value(
            bucket=names.AUTH_BUCKET, history=8, storage=js_api.StorageType.FILE, replicas=self.replicas
        )
        self._obs = await self.js.create_object_store(
            names.ARTIFACTS_BUCKET,
            config=js_api.ObjectStoreConfig(storage=js_api.StorageType.FILE, replicas=self.replicas),
        )

    async def _ensure_stream(self, config: js_api.StreamConfig) -> None:
        try:
            await self.js.add_stream(config)
        except BadRequestError as err:
            if err.err_code != STREAM_NAME_IN_USE:
                raise
            await self.js.update_stream(config)

    async def config(self) -> KeyValue:
        if self._kv is None:
            self._kv = await self.js.key_value(names.CONFIG_BUCKET)
        return self._kv

    async def auth(self) -> KeyValue:
        if self._auth is None:
            self._auth = await self.js.key_value(names.AUTH_BUCKET)
        return self._auth

    async def artifacts(self) -> ObjectStore:
        if self._obs is None:
            self._obs = await self.js.object_store(names.ARTIFACTS_BUCKET)
        return self._obs

    async def append(
        self, subject: str, data: bytes, msg_id: str, expected_seq: int, job_id: str
    ) -> js_api.PubAck:
        """Append one event if the subject's last sequence is still `expected_seq` (0: no events yet)."""
        headers = {"Nats-Msg-Id": msg_id, "Nats-Expected-Last-Subject-Sequence": str(expected_seq)}
        with telemetry.producer_span(self.service, subject, job_id):
            telemetry.inject(headers)

            async def publish() -> js_api.PubAck:
                return await self.js.publish(subject, data, headers=headers, stream=names.JOB_EVENTS_STREAM)

            try:  # sent again after an outage with the same Nats-Msg-Id: stored once, at most
                ack = await self.patiently(f"storing an event of job {job_id}", publish)
            except APIError as err:
                if err.err_code == WRONG_LAST_SEQUENCE:
                    metrics.APPEND_CONFLICTS.inc()
                    raise ConcurrencyConflict(job_id, expected_seq) from err
                raise InfrastructureError(f"JetStream refused an event for job {job_id}: {err}") from err
        return ack

    async def publish_work(self, subject: str, data: bytes, msg_id: str, job_id: str) -> None:
        headers = {"Nats-Msg-Id": msg_id}
        with telemetry.producer_span(self.service, subject, job_id):
            telemetry.inject(headers)

            async def publish() -> None:
                await self.js.publish(subject, data, headers=headers, stream=names.WORK_STREAM)

            await self.patiently(f"queueing work for job {job_id}", publish)

    async def read_subject(
        self, subject: str, after_seq: int, stream: str = names.JOB_EVENTS_STREAM
    ) -> list[tuple[int, bytes, dict[str, str]]]:
        """Every message on `subject` of `stream` after `after_seq`, in order: batched direct gets
        (NATS 2.11+), one request per `READ_BATCH` messages, answered on this connection's one
        reply subscription."""
        return await self.patiently(f"reading {subject}", lambda: self._read(subject, after_seq, stream))

    async def _read(
        self, subject: str, after_seq: int, stream: str
    ) -> list[tuple[int, bytes, dict[str, str]]]:
        out: list[tuple[int, bytes, dict[str, str]]] = []
        while True:
            token = uuid.uuid4().hex
            replies: asyncio.Queue[Msg] = asyncio.Queue()
            if self._replies is None:
                self._inbox = self.nc.new_inbox()
                self._replies = await self.nc.subscribe(f"{self._inbox}.*", cb=self._route)
            self._waiting[token] = replies
            try:
                request = {"seq": after_seq + 1, "next_by_subj": subject, "batch": READ_BATCH}
                await self.nc.publish(
                    f"$JS.API.DIRECT.GET.{stream}",
                    json.dumps(request).encode(),
                    reply=f"{self._inbox}.{token}",
                )
                while True:
                    msg = await asyncio.wait_for(replies.get(), timeout=10)
                    headers = dict(msg.headers or {})
                    status = headers.get("Status")
                    if status == "404":  # nothing (more) on the subject
                        return out
                    if status == "503":  # JetStream is not serving (yet)
                        raise nats.errors.NoRespondersError
                    if status is not None and status != "204":
                        raise InfrastructureError(f"JetStream could not read {subject}: {headers}")
                    if status == "204":  # the end of this batch
                        if int(headers.get("Nats-Num-Pending", "0")) == 0:
                            return out
                        break
                    after_seq = int(headers["Nats-Sequence"])
                    out.append((after_seq, msg.data, headers))
            finally:
                self._waiting.pop(token, None)

    async def _route(self, msg: Msg) -> None:
        queue = self._waiting.get(msg.subject.rsplit(".", 1)[-1])
        if queue is not None:
            queue.put_nowait(msg)
