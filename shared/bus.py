"""The NATS JetStream bus: the only way services talk to each other.

`Bus.ensure()` creates (or updates) the streams and buckets every service relies on:
`JOB_EVENTS` (limits retention, the source of truth), `WORK` (work-queue retention), KV `config`,
KV `auth` (API keys) and object store `artifacts`. Appends are guarded by
`Nats-Expected-Last-Subject-Sequence` and deduplicated by `Nats-Msg-Id`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

import nats
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js import api as js_api
from nats.js.errors import APIError, BadRequestError, NotFoundError
from nats.js.kv import KeyValue
from nats.js.object_store import ObjectStore

from shared import metrics, names, telemetry
from shared.errors import ConcurrencyConflict, InfrastructureError

log = logging.getLogger(__name__)

WRONG_LAST_SEQUENCE = 10071
STREAM_NAME_IN_USE = 10058


class Bus:
    def __init__(self, nc: NATS, service: str, replicas: int = 1) -> None:
        self.nc = nc
        self.js: JetStreamContext = nc.jetstream(timeout=10)
        self.service = service
        self.replicas = replicas
        self._kv: KeyValue | None = None
        self._auth: KeyValue | None = None
        self._obs: ObjectStore | None = None

    @classmethod
    async def connect(cls, url: str, service: str, replicas: int = 1) -> Bus:
        try:
            nc = await nats.connect(
                url,
                name=f"vfo-{service}",
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.5,
                connect_timeout=5,
            )
        except Exception as err:  # nats raises several unrelated types for an unreachable server
            raise InfrastructureError(f"cannot reach NATS at {url}: {err}; is the server running?") from err
        return cls(nc, service, replicas)

    async def close(self) -> None:
        """Every publish here is awaited, so nothing is in flight: close without draining."""
        if not self.nc.is_closed:
            await self.nc.close()

    async def ensure(self) -> None:
        """Create or update the streams and buckets. Safe to run from every service at start."""
        await self._ensure_stream(
            js_api.StreamConfig(
                name=names.JOB_EVENTS_STREAM,
                subjects=[names.JOB_EVENTS_SUBJECTS],
                retention=js_api.RetentionPolicy.LIMITS,
                storage=js_api.StorageType.FILE,
                num_replicas=self.replicas,
                duplicate_window=120.0,
                allow_direct=True,
            )
        )
        await self._ensure_stream(
            js_api.StreamConfig(
                name=names.WORK_STREAM,
                subjects=[names.WORK_SUBJECTS],
                retention=js_api.RetentionPolicy.WORK_QUEUE,
                storage=js_api.StorageType.FILE,
                num_replicas=self.replicas,
                duplicate_window=120.0,
            )
        )
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
            try:
                ack = await self.js.publish(subject, data, headers=headers, stream=names.JOB_EVENTS_STREAM)
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
            await self.js.publish(subject, data, headers=headers, stream=names.WORK_STREAM)

    @staticmethod
    async def consume(
        psubs: JetStreamContext.PullSubscription | Sequence[JetStreamContext.PullSubscription],
        handle: Callable[[Msg], Awaitable[None]],
        stop: asyncio.Event,
        batch: int = 1,
    ) -> None:
        """Fetch and handle messages until `stop` is set; an empty fetch just tries again. With
        several subscriptions, they are asked in turn (a second in all), one batch at a time."""
        subs = list(psubs) if isinstance(psubs, Sequence) else [psubs]
        while not stop.is_set():
            for psub in subs:
                try:
                    msgs = await psub.fetch(batch, timeout=1.0 / len(subs))
                except TimeoutError:  # nats raises its own subclass or plain asyncio.TimeoutError
                    continue
                for msg in msgs:
                    await handle(msg)
                if stop.is_set():
                    return

    async def next_on_subject(self, subject: str, from_seq: int) -> tuple[int, bytes, dict[str, str]]:
        """The first message on `subject` at or after `from_seq` (a direct get: no consumer needed)."""
        raw = await self.js.get_msg(
            names.JOB_EVENTS_STREAM, seq=from_seq, subject=subject, next=True, direct=True
        )
        return int(raw.seq or 0), raw.data or b"", dict(raw.headers or {})

    async def last_sequence(self, subject: str) -> int:
        """The stream sequence of the last message on `subject`, 0 when there is none."""
        try:
            msg = await self.js.get_last_msg(names.JOB_EVENTS_STREAM, subject, direct=True)
        except NotFoundError:
            return 0
        return int(msg.seq or 0)
