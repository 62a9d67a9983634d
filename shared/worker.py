"""The step worker loop shared by script, tts and render.

Every instance of one worker kind pulls from one durable consumer, so each work item goes to exactly
one of them. Per item: record `step_started` (or `lock_stolen` when a crashed worker's item came
back), heartbeat with `in_progress` while the adapter works, record artifacts and `step_completed`,
then ack. Ack/retry policy, by the error tree:

- `PermanentError`, or any unexpected exception: `step_failed` with the message, then ack.
- `RetryableError`: nak with backoff; on the last allowed delivery, `step_failed`.
- a stale item (job cancelled, another attempt running, already completed): ack, nothing recorded.

The heartbeat also watches the job: if it is cancelled, the adapter's task is cancelled (FFmpeg is
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
from nats.js import JetStreamContext
from nats.js import api as js_api
from pydantic import ValidationError

from shared import commands as cmd
from shared import metrics, names, telemetry
from shared.artifacts import ArtifactStore
from shared.errors import PermanentError, RetryableError, StepError, TransitionRefused
from shared.events import Scalar
from shared.eventstore import EventStore
from shared.jobstate import JobState
from shared.work import WorkItem

log = logging.getLogger(__name__)
CANCEL_POLL_S = 1.0
BACKOFF_S = (2.0, 10.0, 30.0, 60.0, 120.0)


@dataclass
class StepContext:
    """What a step adapter gets: the job as of now, the work item and the means to report."""

    job: JobState
    item: WorkItem
    workdir: Path
    store: EventStore
    artifacts: ArtifactStore
    actor: str
    _last_progress: float = field(default=-1.0)
    _last_progress_at: float = field(default=0.0)

    async def progress(self, percent: float, message: str = "", *, log: bool = False) -> None:
        """Record progress; throttled to one event a second unless it is the end, or `log` says the
        message belongs in the job's log (a retried attempt, a skipped provider)."""
        now = time.monotonic()
        throttled = now - self._last_progress_at < 1.0 or percent - self._last_progress < 1
        if percent < 100 and throttled and not log:
            return
        self._last_progress, self._last_progress_at = percent, now
        command = cmd.ReportProgress(
            step=self.item.step,
            attempt=self.item.attempt,
            percent=round(percent, 1),
            message=message,
            actor=self.actor,
        )
        await self.store.execute(self.item.job_id, command)

    async def save(
        self, path: Path, name: str, kind: str, mime_type: str, metadata: Mapping[str, Scalar] | None = None
    ) -> None:
        """Upload a file as an artifact of this step and record `artifact_written`."""
        object_name = names.artifact_object(self.item.job_id, self.item.step, name)
        size, digest = await self.artifacts.put_file(object_name, path)
        command = cmd.RecordArtifact(
            step=self.item.step,
            attempt=self.item.attempt,
            name=name,
            kind=kind,
            object_name=object_name,
            mime_type=mime_type,
            size_bytes=size,
            sha256=digest,
            metadata=dict(metadata or {}),
            actor=self.actor,
        )
        await self.store.execute(self.item.job_id, command)

    async def fetch(self, name: str) -> Path:
        """Download an artifact of this job into the work dir."""
        ref = self.job.artifacts.get(name)
        if ref is None:
            raise PermanentError(f"the job has no artifact named {name!r}; run the step that makes it first")
        return await self.artifacts.get_file(ref.object_name, self.workdir / "in" / ref.step / name)


StepHandler = Callable[[StepContext], Coroutine[Any, Any, dict[str, float]]]


class Progress(Protocol):
    """`StepContext.progress`, as the parts of a step take it."""

    async def __call__(self, percent: float, message: str = "", *, log: bool = False) -> None: ...


class StepWorker:
    def __init__(
        self,
        store: EventStore,
        step: str,
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
        self.step = step
        self.handler = handler
        self.worker_id = worker_id
        self.ack_wait_s = ack_wait_s
        self.max_deliver = max_deliver
        # a render host serves its pools and `any` (a preset's pool that every render host takes);
        # one item at a time whichever pool it comes from
        queues = (
            [*dict.fromkeys([*(pools or [names.DEFAULT_POOL]), names.ANY_POOL])]
            if step == "render"
            else [None]
        )
        self.queues = [(names.work_subject(step, pool), names.work_durable(step, pool)) for pool in queues]
        self.scratch = scratch

    async def subscribe(self, subject: str, durable: str) -> JetStreamContext.PullSubscription:
        """Bind to the durable that every instance of this worker kind shares (created if missing)."""
        config = js_api.ConsumerConfig(
            durable_name=durable,
            ack_policy=js_api.AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait_s,
            max_deliver=self.max_deliver,
            filter_subject=subject,
        )
        return await self.bus.js.pull_subscribe(
            subject, durable=durable, stream=names.WORK_STREAM, config=config
        )

    async def run(self, stop: asyncio.Event) -> None:
        psubs = [await self.subscribe(subject, durable) for subject, durable in self.queues]
        subjects = ", ".join(subject for subject, _ in self.queues)
        log.info("%s worker %s pulling %s", self.step, self.worker_id, subjects)
        await self.bus.consume(psubs, self.handle, stop)

    async def handle(self, msg: Msg) -> None:
        try:
            item = WorkItem.model_validate_json(msg.data)
        except ValidationError:
            log.error("dropping a malformed work item on %s", msg.subject)
            await msg.term()
            return
        delivered = msg.metadata.num_delivered
        if delivered > 1:
            metrics.REDELIVERIES.labels(self.step).inc()
        with telemetry.consumer_span(self.bus.service, msg.subject, msg.headers, item.job_id):
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
            await msg.ack()
            return
        began = time.monotonic()
        workdir = Path(tempfile.mkdtemp(prefix=f"vfo-{item.step}-", dir=self.scratch))
        context = StepContext(job, item, workdir, self.store, self.artifacts, self.worker_id)
        task = asyncio.create_task(self.handler(context))
        watcher = asyncio.create_task(self._heartbeat(msg, item, task))
        outcome = "completed"
        try:
            step_metrics = await task
            await self.store.execute(
                item.job_id,
                cmd.CompleteStep(
                    step=item.step,
                    attempt=item.attempt,
                    duration_s=round(time.monotonic() - began, 3),
                    metrics=step_metrics,
                    actor=self.worker_id,
                ),
            )
            await msg.ack()
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # the worker itself is shutting down: no ack, the item will be redelivered
            outcome = "cancelled"
            await msg.ack()
        except RetryableError as err:
            outcome = await self._retry(msg, item, err, delivered)
        except TransitionRefused as refused:
            outcome = "stale"
            log.info("job %s moved on while %s ran: %s", item.job_id, item.step, refused)
            await msg.ack()
        except Exception as err:
            outcome = "failed"
            message = err.message if isinstance(err, StepError) else f"internal error in {item.step}: {err!r}"
            if not isinstance(err, StepError):
                log.exception("step %s of job %s crashed", item.step, item.job_id)
            await self._fail(item, message, getattr(err, "code", "internal"))
            await msg.ack()
        finally:
            watcher.cancel()
            shutil.rmtree(workdir, ignore_errors=True)
            metrics.STEPS.labels(item.step, outcome).inc()
            metrics.STEP_SECONDS.labels(item.step, outcome).observe(time.monotonic() - began)

    async def _retry(self, msg: Msg, item: WorkItem, err: RetryableError, delivered: int) -> str:
        if delivered >= self.max_deliver:
            await self._fail(item, f"{err.message} (gave up after {delivered} attempts)", err.code)
            await msg.ack()
            return "failed"
        delay = BACKOFF_S[min(delivered - 1, len(BACKOFF_S) - 1)]
        log.warning("%s of job %s will be retried in %.0fs: %s", item.step, item.job_id, delay, err.message)
        await msg.nak(delay=delay)
        return "retried"

    async def _fail(self, item: WorkItem, message: str, code: str) -> None:
        with contextlib.suppress(TransitionRefused):
            await self.store.execute(
                item.job_id,
                cmd.FailStep(
                    step=item.step, attempt=item.attempt, error=message, code=code, actor=self.worker_id
                ),
            )

    async def _heartbeat(self, msg: Msg, item: WorkItem, task: asyncio.Task[dict[str, float]]) -> None:
        """Keep the item ours while the adapter works, and stop the adapter if the job was cancelled."""
        last_beat = time.monotonic()
        while not task.done():
            await asyncio.sleep(CANCEL_POLL_S)
            if time.monotonic() - last_beat >= self.ack_wait_s / 3:
                await msg.in_progress()
                last_beat = time.monotonic()
            job = (await self.store.load(item.job_id)).state
            mine = job.step(item.step)
            if mine.attempt != item.attempt or mine.status not in ("requested", "running"):
                log.info(
                    "job %s: %s attempt %s is no longer wanted; stopping it",
                    item.job_id,
                    item.step,
                    item.attempt,
                )
                task.cancel()
                return
