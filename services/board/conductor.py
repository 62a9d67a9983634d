"""The conductor: the process manager that turns a step request into work.

It reads JOB_EVENTS through a durable consumer (`shared.consumer`). A `step_requested` becomes a work
item on the step's subject (`work.<step>`, or `work.<step>.<pool>` for a pooled step), deduplicated
by the event id, but only while the job still waits for that attempt. Everything else it acks
unread: what comes after a step is decided with the step's completion (`shared.decide`). A second
delivery finds the item already published (or the job moved on) and does nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging

from nats.aio.msg import Msg

from shared import metrics, names
from shared.consumer import Consumer, Durable
from shared.events import StepRequested, parse_event
from shared.eventstore import EventStore
from shared.work import WorkItem

log = logging.getLogger(__name__)
DURABLE = Durable(
    names.JOB_EVENTS_STREAM, names.CONDUCTOR_DURABLE, names.JOB_EVENTS_SUBJECTS, max_ack_pending=1000
)


class Conductor:
    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.bus = store.bus

    async def run(self, stop: asyncio.Event) -> None:
        await Consumer(
            self.bus, [DURABLE], self.handle, batch=100, job_of=lambda msg: names.job_of_subject(msg.subject)
        ).run(stop)

    async def handle(self, msg: Msg) -> None:
        if json.loads(msg.data).get("type") != StepRequested.type:
            return  # most events are not requests: not worth reading whole
        event = parse_event(msg.data)
        if isinstance(event, StepRequested):
            await self._dispatch(event)

    async def _dispatch(self, event: StepRequested) -> None:
        job = (await self.store.load(event.job_id)).state
        current = job.step(event.step)
        if current.attempt != event.attempt or current.status != "requested":
            return  # the job moved on (started, cancelled or re-requested): this request is history
        item = WorkItem(
            job_id=event.job_id,
            step=event.step,
            attempt=event.attempt,
            input_hash=event.input_hash,
            instruction=event.instruction,
        )
        subject = names.work_subject(event.step, event.pool)
        await self.bus.publish_work(
            subject, item.model_dump_json().encode(), str(event.event_id), event.job_id
        )
        metrics.WORK_PUBLISHED.labels(event.step).inc()
