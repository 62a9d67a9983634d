"""The conductor: the process manager that turns a finished step into the next step's work.

It reads JOB_EVENTS through a durable consumer:
- `step_requested` -> a work item on `work.<step>` (deduplicated by the event id), but only while
  the job still waits for that attempt;
- `step_completed` -> the `Advance` command (the next step if Auto video or the target asks).
Both are idempotent: a second delivery finds the job already moved on and does nothing.
"""

from __future__ import annotations

import asyncio
import logging

from nats.aio.msg import Msg
from nats.js import api as js_api

from shared import commands as cmd
from shared import metrics, names, telemetry
from shared.errors import InfrastructureError, TransitionRefused
from shared.events import StepCompleted, StepRequested, parse_event
from shared.eventstore import EventStore
from shared.work import WorkItem

log = logging.getLogger(__name__)


class Conductor:
    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.bus = store.bus

    async def run(self, stop: asyncio.Event) -> None:
        config = js_api.ConsumerConfig(
            durable_name=names.CONDUCTOR_DURABLE,
            ack_policy=js_api.AckPolicy.EXPLICIT,
            deliver_policy=js_api.DeliverPolicy.ALL,
            ack_wait=30,
            max_ack_pending=1000,
        )
        psub = await self.bus.js.pull_subscribe(
            names.JOB_EVENTS_SUBJECTS,
            durable=names.CONDUCTOR_DURABLE,
            stream=names.JOB_EVENTS_STREAM,
            config=config,
        )
        await self.bus.consume(psub, self.handle, stop, batch=100)

    async def handle(self, msg: Msg) -> None:
        event = parse_event(msg.data)
        if not isinstance(event, StepRequested | StepCompleted):
            await msg.ack()
            return
        with telemetry.consumer_span(self.bus.service, msg.subject, msg.headers, event.job_id):
            try:
                if isinstance(event, StepRequested):
                    await self._dispatch(event)
                else:
                    await self.store.execute(event.job_id, cmd.Advance(actor="conductor"))
            except TransitionRefused as refused:
                log.info("conductor: nothing to do for %s of job %s: %s", event.type, event.job_id, refused)
            except InfrastructureError:
                log.exception("conductor: will retry %s of job %s", event.type, event.job_id)
                await msg.nak(delay=2)
                return
        await msg.ack()

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
