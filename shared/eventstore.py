"""Load, fold and append the events of one job; the optimistic-concurrency loop lives here.

`execute(job_id, command)` is the only write path for job state: load the job's events, `decide`,
append with the expected last sequence; on a conflict reload and decide again.
"""

from __future__ import annotations

import asyncio
import random
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field

from shared import commands as cmd
from shared import metrics, names, telemetry
from shared.bus import Bus
from shared.commands import Command
from shared.consumer import skip_unreadable
from shared.decide import decide
from shared.errors import ConcurrencyConflict, TransitionRefused
from shared.events import Event, UnreadableEvent, parse_event
from shared.jobstate import JobState, evolve


@dataclass(frozen=True)
class JobStream:
    """One job as loaded from JOB_EVENTS: its folded state, last sequence and the trace it started."""

    state: JobState
    last_seq: int
    root_headers: Mapping[str, str] = field(default_factory=dict)


class EventStore:
    def __init__(self, bus: Bus, cache_size: int = 2048) -> None:
        self.bus = bus
        self._cache: OrderedDict[str, JobStream] = OrderedDict()
        self._cache_size = cache_size

    async def read(self, job_id: str, after_seq: int = 0) -> list[tuple[int, Event, Mapping[str, str]]]:
        """Events of `job_id` with stream sequence > `after_seq`, in order, with their headers (one
        batched direct get, whatever the length of the history). A message that is not an event is
        skipped (logged and counted): the job is decided on the events that can be read."""
        return (await self._read(job_id, after_seq))[0]

    async def _read(
        self, job_id: str, after_seq: int
    ) -> tuple[list[tuple[int, Event, Mapping[str, str]]], int]:
        """The readable events, and the subject's last sequence (an unreadable message counts: the
        next append must expect it)."""
        subject = names.job_subject(job_id)
        events: list[tuple[int, Event, Mapping[str, str]]] = []
        last_seq = after_seq
        for seq, data, headers in await self.bus.read_subject(subject, after_seq):
            last_seq = seq
            try:
                events.append((seq, parse_event(data), headers))
            except UnreadableEvent as err:
                skip_unreadable("event-store", subject, seq, err)
        return events, last_seq

    async def load(self, job_id: str) -> JobStream:
        cached = self._cache.get(job_id)
        base = cached or JobStream(JobState(job_id=job_id), 0)
        rows, last_seq = await self._read(job_id, base.last_seq)
        state, root = base.state, dict(base.root_headers)
        for _, event, headers in rows:
            if not root:
                root = {k: v for k, v in headers.items() if k in ("traceparent", "tracestate")}
            state = evolve(state, event)
        loaded = JobStream(state, last_seq, root)
        self._remember(loaded)
        return loaded

    def _remember(self, stream: JobStream) -> None:
        self._cache[stream.state.job_id] = stream
        self._cache.move_to_end(stream.state.job_id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    async def append(self, job_id: str, events: list[Event], expected_seq: int) -> int:
        """Append `events` in order; raises ConcurrencyConflict if the job moved past `expected_seq`."""
        subject = names.job_subject(job_id)
        seq = expected_seq
        for stored, event in enumerate(events):
            try:
                ack = await self.bus.append(subject, event.to_json(), str(event.event_id), seq, job_id)
            except ConcurrencyConflict as conflict:
                conflict.stored = stored
                raise
            if ack.duplicate:
                # Someone already stored this very event: our view is stale, reload and decide again.
                self._cache.pop(job_id, None)
                raise ConcurrencyConflict(job_id, seq, stored)
            seq = ack.seq
            metrics.EVENTS_APPENDED.labels(event.type).inc()
        return seq

    async def execute(
        self, job_id: str, command: Command, *, join_job_trace: bool = False
    ) -> tuple[JobState, list[Event]]:
        """Decide and append, retrying on conflicts. Raises TransitionRefused when not allowed.

        A job this store has cached is decided on the cache and appended with the cached last
        sequence: if the job moved on meanwhile the append is refused, and the job is reloaded and
        decided again. A refusal, or a decision with nothing to do, is only trusted on a fresh load.

        With `join_job_trace` (commands from people, not from messages), the work joins the trace
        that the job's creation started, so a job keeps one trace from start to end.
        """
        stream = self._cache.get(job_id)
        if stream is None and isinstance(command, cmd.CreateJob):
            stream = JobStream(JobState(job_id=job_id), 0)  # a new job: nothing to load (else: refused)
        finishing = False
        for attempt in range(50):
            fresh = stream is None
            if stream is None:
                stream = await self.load(job_id)
            try:
                events = decide(stream.state, command)
            except TransitionRefused:
                if fresh and finishing:  # someone else went on from there
                    return stream.state, []
                if fresh:
                    raise
                stream = None
                continue
            if not events:
                if fresh:
                    return stream.state, []
                stream = None
                continue
            parent = stream.root_headers if join_job_trace and stream.root_headers else None
            try:
                with telemetry.span(
                    f"decide {type(command).__name__}", self.bus.service, parent, job_id=job_id
                ):
                    last = await self.append(job_id, events, stream.last_seq)
            except ConcurrencyConflict as conflict:
                self._cache.pop(job_id, None)
                stream = None
                if conflict.stored:  # part of the decision is stored: finish it from there
                    command, finishing = cmd.Advance(actor=command.actor), True
                if attempt:  # racing writers: let one of them through
                    await asyncio.sleep(random.uniform(0, 0.005 * attempt))  # noqa: S311 - jitter only
                continue
            state = stream.state
            for event in events:
                state = evolve(state, event)
            self._remember(JobStream(state, last, stream.root_headers or self._root_of(job_id)))
            return state, events
        raise ConcurrencyConflict(job_id, -1)

    def _root_of(self, job_id: str) -> Mapping[str, str]:
        headers: dict[str, str] = {}
        telemetry.inject(headers)
        return headers
