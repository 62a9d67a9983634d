"""The NATS JetStream bus: the only way services talk to each other.

`Bus.ensure()` creates (or updates) the streams and buckets every service relies on:
`JOB_EVENTS` (limits retention, the source of truth), `WORK` (work-queue retention), KV `config`,
KV `auth` (API keys) and object store `artifacts`. Appends are guarded by
`Nats-Expected-Last-Subject-Sequence` and deduplicated by `Nats-Msg-Id`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import Any

import nats
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js import api as js_api
from nats.js.errors import APIError, BadRequestError
from nats.js.kv import KeyValue
from nats.js.object_store import ObjectStore

from shared import metrics, names, telemetry
from shared.errors import ConcurrencyConflict, InfrastructureError

log = logging.getLogger(__name__)

WRONG_LAST_SEQUENCE = 10071
STREAM_NAME_IN_USE = 10058
READ_BATCH = 1000  # messages per batched direct get


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

    async def read_subject(
        self, subject: str, after_seq: int, stream: str = names.JOB_EVENTS_STREAM
    ) -> list[tuple[int, bytes, dict[str, str]]]:
        """Every message on `subject` of `stream` after `after_seq`, in order: batched direct gets
        (NATS 2.11+), one request per `READ_BATCH` messages, answered on this connection's one
        reply subscription."""
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
                    if status is not None and status != "204":
                        raise InfrastructureError(f"JetStream could not read {subject}: {headers}")
                    if status == "204":  # the end of this batch
                        if int(headers.get("Nats-Num-Pending", "0")) == 0:
                            return out
                        break
                    after_seq = int(headers["Nats-Sequence"])
                    out.append((after_seq, msg.data, headers))
            except TimeoutError as err:
                raise InfrastructureError(f"JetStream did not answer a read of {subject}") from err
            finally:
                self._waiting.pop(token, None)

    async def _route(self, msg: Msg) -> None:
        queue = self._waiting.get(msg.subject.rsplit(".", 1)[-1])
        if queue is not None:
            queue.put_nowait(msg)
