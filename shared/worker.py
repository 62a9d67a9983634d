"""The step worker shared by every step's service, and the typed contract of a step handler.

A handler takes one `StepInput` (the job's inputs, its config snapshot, the upstream artifacts its
row in the pipeline table declares, downloaded) and returns one `StepResult` (the artifacts it made,
each declared in its row, and typed `StepMetrics`). It never reads another step's files by name.

Every instance of one worker kind pulls from one durable consumer (`shared.consumer`), so each work
item goes to exactly one of them. Per item: record `step_started` (or `lock_stolen` when a crashed
worker's item came back), heartbeat with `in_progress` while the handler works, record the
artifacts and `step_completed` (which, in the same decision, asks for what comes next), then ack.
By the error tree:

- `PermanentError`, or any unexpected exception: `step_failed` with the message, then ack.
- `RetryableError`: redelivered with backoff; on the last allowed delivery, `step_failed`.
- a stale item (job cancelled, another attempt running, already completed): ack, nothing recorded.
- an item that is not a work item at all: terminated by the consumer runtime.

The heartbeat also watches the job: if it is cancelled, the handler's task is cancelled (FFmpeg is
killed) within `CANCEL_POLL_S`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from nats.aio.msg import Msg
from pydantic import BaseModel, ConfigDict

from shared import commands as cmd
from shared import metrics, names
from shared.artifacts import ArtifactStore
from shared.bus import BUS_AWAY, impatient
from shared.config import JobConfig
from shared.consumer import Consumer, Durable, Redeliver, backoff
from shared.errors import PermanentError, RetryableError, StepError, TransitionRefused
from shared.events import Scalar
from shared.eventstore import EventStore
from shared.jobstate import ArtifactRef, JobState
from shared.options import JobOptions
from shared.pipeline import StepSpec
from shared.said import Said, said
from shared.work import WorkItem

log = logging.getLogger(__name__)
CANCEL_POLL_S = 1.0


class Progress(Protocol):
    """How the parts of a step report progress; `log` puts the message in the job's log."""

    async def __call__(self, percent: float, message: str | Said = "", *, log: bool = False) -> None: ...


class StepMetrics(BaseModel):
    """What a step measured, recorded with `step_completed` (and shown in the drawer)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # script
    words: float | None = None
    sections: float | None = None
    input_tokens: float | None = None
    output_tokens: float | None = None
    model_calls: float | None = None
    # narration
    audio_s: float | None = None
    characters: float | None = None
    cues: float | None = None
    # render
    video_s: float | None = None
    realtime_factor: float | None = None
    stills: float | None = None
    shorts: float | None = None
    # any step that buys something
    cost_usd: float | None = None

    def recorded(self) -> dict[str, float]:
        return self.model_dump(exclude_none=True)


@dataclass(frozen=True)
class Output:
    """One artifact a step made, to store and record."""

    path: Path
    name: str
    kind: str
    mime_type: str
    metadata: Mapping[str, Scalar] = field(default_factory=dict)


@dataclass(frozen=True)
class StepResult:
    outputs: tuple[Output, ...] = ()
    metrics: StepMetrics = field(default_factory=StepMetrics)


@dataclass(frozen=True)
class StepInput:
    """What a handler works from. `upstream` holds the declared reads, downloaded; `earlier` this
    step's own artifacts from earlier attempts (a handler may reuse what is still valid)."""

    job_id: str
    step: str
    attempt: int
    title: str
    brief: str
    language: str
    images: tuple[str, ...]
    options: JobOptions
    project: str
    config: JobConfig
    instruction: str | None
    upstream: Mapping[str, Path]
    earlier: Mapping[str, ArtifactRef]
    workdir: Path
    run: StepRun
    delivery: int = 1  # which delivery of the work item this is
    deliveries: int = 1  # how many it may have: on the last, a failing provider hands over to the next

    @property
    def last_delivery(self) -> bool:
        return self.delivery >= self.deliveries

    def read(self, name: str) -> Path:
        """A declared upstream artifact; a missing one means the step that makes it must run first."""
        try:
            return self.upstream[name]
        except KeyError:
            raise PermanentError(
                f"the job has no artifact named {name!r}; run the step that makes it first"
            ) from None


StepHandler = Callable[[StepInput], Coroutine[Any, Any, StepResult]]


@dataclass
class StepRun:
    """The running attempt's means to report: progress, and artifacts kept before the end (a
    script's stages, reused by a later attempt)."""

    job_id: str
    spec: StepSpec
    attempt: int
    workdir: Path
    store: EventStore
    artifacts: ArtifactStore
    actor: str
    _last_progress: float = field(default=-1.0)
    _last_progress_at: float = field(default=0.0)

    async def progress(self, percent: float, message: str | Said = "", *, log: bool = False) -> None:
        """Record progress; throttled to one event a second unless it is the end, or `log` says the
        message belongs in the job's log (a retried attempt, a skipped provider)."""
        now = time.monotonic()
        throttled = now - self._last_progress_at < 1.0 or percent - self._last_progress < 1
        if percent < 100 and throttled and not log:
            return
        self._last_progress, self._last_progress_at = percent, now
        command = cmd.ReportProgress(
            step=self.spec.name,
            attempt=self.attempt,
            percent=round(percent, 1),
            message=str(message),
            code=message.code if isinstance(message, Said) else "",
            params=dict(message.params) if isinstance(message, Said) else {},
            actor=self.actor,
        )
        if log:  # a line of the job's log: worth waiting for NATS
            await self.store.execute(self.job_id, command)
            return
        try:  # a progress figure is not worth holding the work up while NATS is away: the next says more
            with impatient():
                await self.store.execute(self.job_id, command)
        except BUS_AWAY:
            self._last_progress = -1.0

    async def keep(self, output: Output) -> None:
        """Store `output` as an artifact of this step now, and record `artifact_written`."""
        if not self.spec.writes_artifact(output.name):
            raise PermanentError(
                f"step {self.spec.name} made {output.name!r}, which its row in the pipeline table does not"
                f" declare ({', '.join(self.spec.writes) or 'nothing'})"
            )
        object_name = names.artifact_object(self.job_id, self.spec.name, output.name)
        size, digest = await self.artifacts.put_file(object_name, output.path)
        command = cmd.RecordArtifact(
            step=self.spec.name,
            attempt=self.attempt,
            name=output.name,
            kind=output.kind,
            object_name=object_name,
            mime_type=output.mime_type,
            size_bytes=size,
            sha256=digest,
            metadata=dict(output.metadata),
            actor=self.actor,
        )
        await self.store.execute(self.job_id, command)

    async def fetch(self, ref: ArtifactRef) -> Path:
        """Download an artifact of this job into the work dir."""
        return await self.artifacts.get_file(ref.object_name, self.workdir / "in" / ref.step / ref.name)


async def step_input(
    state: JobState, item: WorkItem, run: StepRun, delivery: int = 1, deliveries: int = 1
) -> StepInput:
    """The handler's input: the job as of now, and the upstream artifacts the step declares."""
    config = state.run_config  # the snapshot, with what a person changed of the render
    if config is None:
        raise PermanentError("the job has no configuration snapshot; create it again")
    upstream = {
        name: await run.fetch(state.artifacts[name]) for name in run.spec.reads if name in state.artifacts
    }
    return StepInput(
        job_id=state.job_id,
        step=item.step,
        attempt=item.attempt,
        title=state.title,
        brief=state.brief,
        language=state.language,
        images=state.images,
        options=state.run_options,
        project=state.project,
        config=config,
        instruction=item.instruction,
        upstream=upstream,
        earlier={a.name: a for a in state.artifacts_of(item.step)},
        workdir=run.workdir,
        run=run,
        delivery=delivery,
        deliveries=deliveries,
    )


class StepWorker:
    def __init__(
        self,
        store: EventStore,
        spec: StepSpec,
        handler: StepHandler,
        *,
        worker_id: str,
        ack_wait_s: float = 30.0,
        max_deliver: int = 5,
        pools: Sequence[str] = (),
        scratch: Path | None = None,
    ) -> None:
        self.store = store
        self.bus = store.bus
        self.artifacts = ArtifactStore(store.bus)
        self.spec = spec
        self.step = spec.name
        self.handler = handler
        self.worker_id = worker_id
        self.ack_wait_s = ack_wait_s
        self.max_deliver = max_deliver
        # a host of a pooled step serves its pools and `any` (a preset's pool that every host
        # takes); one item at a time whichever pool it comes from
        queues = (
            [*dict.fromkeys([*(pools or [names.DEFAULT_POOL]), names.ANY_POOL])] if spec.pooled else [None]
        )
        self.durables = [
            Durable(
                names.WORK_STREAM,
                names.work_durable(self.step, pool),
                names.work_subject(self.step, pool),
                ack_wait_s=ack_wait_s,
                max_deliver=max_deliver,
            )
            for pool in queues
        ]
        self.scratch = scratch

    async def run(self, stop: asyncio.Event) -> None:
        await Consumer(self.bus, self.durables, self.handle, job_of=_job_of).run(stop)

    async def handle(self, msg: Msg) -> None:
        item = WorkItem.read(msg.data)  # unreadable: the runtime terminates it
        if item.step != self.step:
            raise PermanentError(f"a {item.step} work item on the {self.step} queue")
        delivered = msg.metadata.num_delivered
        if delivered > 1:
            metrics.REDELIVERIES.labels(self.step).inc()
        await self._process(msg, item, delivered)

    async def _process(self, msg: Msg, item: WorkItem, delivered: int) -> None:
        start = cmd.StartStep(
            step=item.step,
            attempt=item.attempt,
            worker=self.worker_id,
            redelivered=delivered > 1,
            actor=self.worker_id,
        )
        try:
            job, _ = await self.store.execute(item.job_id, start)
        except TransitionRefused as refused:
            log.info("stale work item for job %s: %s", item.job_id, refused)
            if delivered > 1:  # a worker died after completing it: make sure its decision was finished
                with contextlib.suppress(TransitionRefused):
                    await self.store.execute(item.job_id, cmd.Advance(actor=self.worker_id))
            return
        began = time.monotonic()
        workdir = Path(tempfile.mkdtemp(prefix=f"vfo-{item.step}-", dir=self.scratch))
        run = StepRun(
            item.job_id, self.spec, item.attempt, workdir, self.store, self.artifacts, self.worker_id
        )
        task = asyncio.create_task(self._attempt(job, item, run, delivered))
        watcher = asyncio.create_task(self._heartbeat(msg, item, task))
        outcome = "completed"
        away_before = self.bus.away_for()
        try:
            result = await task
            await self._report_outage(item, self.bus.away_for() - away_before)
            await self.store.execute(
                item.job_id,
                cmd.CompleteStep(
                    step=item.step,
                    attempt=item.attempt,
                    duration_s=round(time.monotonic() - began, 3),
                    metrics=result.metrics.recorded(),
                    actor=self.worker_id,
                ),
            )
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # the worker itself is shutting down: no ack, the item will be redelivered
            outcome = "cancelled"
        except RetryableError as err:
            outcome = await self._retry(item, err, delivered)
        except TransitionRefused as refused:
            outcome = "stale"
            log.info("job %s moved on while %s ran: %s", item.job_id, item.step, refused)
        except BUS_AWAY as err:
            # NATS stayed away longer than this worker waits: not the step's fault. The item comes
            # back (after ack_wait, as nothing can be said to NATS now) and the step starts again.
            outcome = "interrupted"
            log.warning("job %s: %s interrupted, NATS is away: %r", item.job_id, item.step, err)
            raise Redeliver(f"NATS is away: {err!r}") from err
        except Exception as err:
            outcome = "failed"
            message = err.message if isinstance(err, StepError) else f"internal error in {item.step}: {err!r}"
            if not isinstance(err, StepError):
                log.exception("step %s of job %s crashed", item.step, item.job_id)
            await self._fail(item, message, getattr(err, "code", "internal"))
        finally:
            watcher.cancel()
            shutil.rmtree(workdir, ignore_errors=True)
            metrics.STEPS.labels(item.step, outcome).inc()
            metrics.STEP_SECONDS.labels(item.step, outcome).observe(time.monotonic() - began)

    async def _attempt(self, job: JobState, item: WorkItem, run: StepRun, delivered: int) -> StepResult:
        deliveries = self.max_deliver if self.max_deliver > 0 else delivered + 1
        result = await self.handler(await step_input(job, item, run, delivered, deliveries))
        for output in result.outputs:
            await run.keep(output)
        return result

    async def _retry(self, item: WorkItem, err: RetryableError, delivered: int) -> str:
        """Try again later, saying so in the job's log; on the last allowed delivery, fail."""
        if delivered >= self.max_deliver:
            await self._fail(item, f"{err.message} (gave up after {delivered} attempts)", err.code)
            return "failed"
        delay = backoff(delivered)
        again = said(
            "trying_again", error=err.message, delay=round(delay), next=delivered + 1, limit=self.max_deliver
        )
        await self._log(item, again, 0.0)
        raise Redeliver(err.message, delay)

    async def _log(self, item: WorkItem, line: Said, percent: float) -> None:
        """A line of the job's log, from the worker (not the handler)."""
        with contextlib.suppress(TransitionRefused):
            await self.store.execute(
                item.job_id,
                cmd.ReportProgress(
                    step=item.step,
                    attempt=item.attempt,
                    percent=percent,
                    message=str(line),
                    code=line.code,
                    params=dict(line.params),
                    actor=self.worker_id,
                ),
            )

    async def _fail(self, item: WorkItem, message: str, code: str) -> None:
        with contextlib.suppress(TransitionRefused):
            await self.store.execute(
                item.job_id,
                cmd.FailStep(
                    step=item.step, attempt=item.attempt, error=message, code=code, actor=self.worker_id
                ),
            )

    async def _report_outage(self, item: WorkItem, away_s: float) -> None:
        """Say in the job's log that NATS was away while the step worked, and that it went on."""
        if away_s >= 1.0:
            await self._log(item, said("bus_was_away", seconds=round(away_s), step=item.step), 100.0)

    async def _heartbeat(self, msg: Msg, item: WorkItem, task: asyncio.Task[StepResult]) -> None:
        """Keep the item ours while the handler works, and stop it if the job was cancelled. While
        NATS is away neither can be done: the handler goes on, and so does this once it is back."""
        last_beat = time.monotonic()
        while not task.done():
            await asyncio.sleep(CANCEL_POLL_S)
            try:
                if time.monotonic() - last_beat >= self.ack_wait_s / 3:
                    await msg.in_progress()
                    last_beat = time.monotonic()
                wanted = await self._still_wanted(item)
            except BUS_AWAY as err:
                log.info("job %s: no heartbeat while NATS is away: %r", item.job_id, err)
                await self.bus.recover()
                last_beat = 0.0  # say "still working" as soon as it is back
                continue
            if not wanted:
                log.info(
                    "job %s: %s attempt %s is no longer wanted; stopping it",
                    item.job_id,
                    item.step,
                    item.attempt,
                )
                task.cancel()
                return

    async def _still_wanted(self, item: WorkItem) -> bool:
        mine = (await self.store.load(item.job_id)).state.step(item.step)
        return mine.attempt == item.attempt and mine.active


def _job_of(msg: Msg) -> str | None:
    return WorkItem.read(msg.data).job_id
