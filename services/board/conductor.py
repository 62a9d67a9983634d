"""The conductor: the process manager that turns a step request into work.

It reads JOB_EVENTS through a durable consumer (`shared.consumer`). A `step_requested` becomes a work
item on the step's subject (`work.<step>`, or `work.<step>.<pool>` for a pooled step), deduplicated
by the event id, but only while the job still waits for that attempt. Everything else it acks
unread: what comes after a step is decided with the step's completion (`shared.decide`). A second
delivery finds the item already published (or the job moved on) and does nothing.

When JetStream gives up on a work item (its last allowed delivery went unacked: the worker died every
time), the advisory it publishes fails that step, so no job stays running for ever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from nats.aio.msg import Msg
from nats.js.errors import NotFoundError
from pydantic import BaseModel, ConfigDict

from shared import commands as cmd
from shared import metrics, names
from shared.consumer import Consumer, Durable, skip_unreadable
from shared.errors import TransitionRefused
from shared.events import StepRequested, UnreadableEvent, parse_event, peek_type
from shared.eventstore import EventStore
from shared.work import WorkItem

log = logging.getLogger(__name__)
DURABLE = Durable(
    names.JOB_EVENTS_STREAM, names.CONDUCTOR_DURABLE, names.JOB_EVENTS_SUBJECTS, max_ack_pending=1000
)
GIVE_UPS = Durable(names.GIVE_UPS_STREAM, names.GIVE_UPS_DURABLE, names.GIVE_UPS_SUBJECTS)


class GiveUp(BaseModel):
    """JetStream's max-deliveries advisory (io.nats.jetstream.advisory.v1.max_deliver): the fields read."""

    model_config = ConfigDict(extra="ignore")

    stream: str
    consumer: str
    stream_seq: int
    deliveries: int


class Conductor:
    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.bus = store.bus

    async def run(self, stop: asyncio.Event) -> None:
        requests = Consumer(
            self.bus, [DURABLE], self.handle, batch=100, job_of=lambda msg: names.job_of_subject(msg.subject)
        )
        give_ups = Consumer(self.bus, [GIVE_UPS], self.give_up)
        await asyncio.gather(requests.run(stop), give_ups.run(stop))

    async def give_up(self, msg: Msg) -> None:
        """A work item reached its last delivery without an ack: whatever killed its worker (a crash,
        the OOM killer, a SIGKILL) did so every time. Fail the step, saying so, and drop the item."""
        advisory = GiveUp.model_validate_json(msg.data)  # unreadable: the runtime terminates it
        if advisory.stream != names.WORK_STREAM:
            return
        try:
            stored = await self.bus.js.get_msg(names.WORK_STREAM, advisory.stream_seq)
        except NotFoundError:
            return  # acked meanwhile (a worker finished it after all)
        try:
            item = WorkItem.read(stored.data or b"")
        except ValueError as err:
            log.error("work item %d cannot be read: %s", advisory.stream_seq, err)
        else:
            error = (
                f"the {item.step} step stopped: its worker died {advisory.deliveries} times on this job"
                " (crashed or was killed before it could report; see that worker's log)"
            )
            with contextlib.suppress(TransitionRefused):  # the job moved on meanwhile
                await self.store.execute(
                    item.job_id,
                    cmd.FailStep(
                        step=item.step,
                        attempt=item.attempt,
                        error=error,
                        code="worker_died",
                        actor="conductor",
                    ),
                )
            log.warning("job %s: %s", item.job_id, error)
        with contextlib.suppress(NotFoundError):
            await self.bus.js.delete_msg(names.WORK_STREAM, advisory.stream_seq)

    async def handle(self, msg: Msg) -> None:
        try:
            if peek_type(msg.data) != StepRequested.type:
                return  # most events are not requests: not worth reading whole
            event = parse_event(msg.data)
        except UnreadableEvent as err:
            skip_unreadable("conductor", msg.subject, msg.metadata.sequence.stream, err)
            return
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
