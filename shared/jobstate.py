"""The job state machine's states and the fold `evolve(state, event) -> state` (seed 001, section 3).

11 states, 5 columns, 21 transitions. `evolve` is pure and total: the board, the conductor, the
workers and the projector all fold events with it, so they can never disagree about a job.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared import events as ev
from shared.config import JobConfig
from shared.options import JobOptions


class JobStateName(StrEnum):
    DRAFT = "DRAFT"
    READY = "READY"
    SCRIPTING = "SCRIPTING"
    SCRIPT_DONE = "SCRIPT_DONE"
    TTS_RUNNING = "TTS_RUNNING"
    TTS_DONE = "TTS_DONE"
    RENDER_READY = "RENDER_READY"
    RENDER_RUNNING = "RENDER_RUNNING"
    DONE = "DONE"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class Column(StrEnum):
    A_FAZER = "A_FAZER"
    ROTEIRO = "ROTEIRO"
    NARRACAO = "NARRACAO"
    VIDEO = "VIDEO"
    CONCLUIDO = "CONCLUIDO"


S = JobStateName
COLUMN_ORDER: tuple[Column, ...] = tuple(Column)
COLUMN_OF_STATE: dict[JobStateName, Column] = {
    S.DRAFT: Column.A_FAZER,
    S.READY: Column.A_FAZER,
    S.SCRIPTING: Column.ROTEIRO,
    S.SCRIPT_DONE: Column.ROTEIRO,
    S.TTS_RUNNING: Column.NARRACAO,
    S.TTS_DONE: Column.NARRACAO,
    S.RENDER_READY: Column.VIDEO,
    S.RENDER_RUNNING: Column.VIDEO,
    S.DONE: Column.CONCLUIDO,
}
RUNNING_STATE: dict[str, JobStateName] = {
    "script": S.SCRIPTING,
    "tts": S.TTS_RUNNING,
    "render": S.RENDER_RUNNING,
}
DONE_STATE: dict[str, JobStateName] = {"script": S.SCRIPT_DONE, "tts": S.TTS_DONE, "render": S.DONE}
STEP_OF_RUNNING: dict[JobStateName, str] = {v: k for k, v in RUNNING_STATE.items()}
STEP_COLUMN: dict[str, Column] = {"script": Column.ROTEIRO, "tts": Column.NARRACAO, "render": Column.VIDEO}
STEP_WEIGHT: dict[str, float] = {"script": 15.0, "tts": 25.0, "render": 60.0}

_RUNNING = tuple(RUNNING_STATE.values())
TRANSITIONS: frozenset[tuple[JobStateName, JobStateName]] = frozenset(
    {
        (S.DRAFT, S.READY),
        (S.READY, S.SCRIPTING),
        (S.SCRIPTING, S.SCRIPT_DONE),
        (S.SCRIPT_DONE, S.TTS_RUNNING),
        (S.TTS_RUNNING, S.TTS_DONE),
        (S.TTS_DONE, S.RENDER_READY),
        (S.TTS_DONE, S.RENDER_RUNNING),
        (S.RENDER_READY, S.RENDER_RUNNING),
        (S.RENDER_RUNNING, S.DONE),
    }
    | {(running, end) for running in _RUNNING for end in (S.FAILED, S.CANCELLED)}
    | {(end, running) for end in (S.FAILED, S.CANCELLED) for running in _RUNNING}
)

StepStatus = Literal["pending", "requested", "running", "completed", "failed", "skipped", "cancelled"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class StepState(_Frozen):
    status: StepStatus = "pending"
    attempt: int = 0
    input_hash: str = ""
    worker: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_s: float | None = None
    percent: float = 0.0
    error: str | None = None
    instruction: str | None = None
    metrics: dict[str, float] = Field(default_factory=dict)


class ArtifactRef(_Frozen):
    name: str
    step: str
    kind: str
    object_name: str
    mime_type: str
    size_bytes: int
    sha256: str
    version: int = 1
    metadata: dict[str, ev.Scalar] = Field(default_factory=dict)


class JobState(_Frozen):
    job_id: str
    state: JobStateName | None = None  # None: the job does not exist yet
    project: str = "default"
    title: str = ""
    brief: str = ""
    language: str = ""
    images: tuple[str, ...] = ()
    auto_video: bool = True
    options: JobOptions = JobOptions()
    config: JobConfig | None = None
    target: Column | None = None
    steps: dict[str, StepState] = Field(default_factory=dict)
    artifacts: dict[str, ArtifactRef] = Field(default_factory=dict)
    retry_count: int = 0
    failed_step: str | None = None
    last_error: str | None = None
    current_step: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    completed_at: datetime | None = None
    events_applied: int = 0

    @property
    def column(self) -> Column:
        """The board column: FAILED and CANCELLED jobs stay (with a badge) where their step ran."""
        if self.state is None:
            return Column.A_FAZER
        if self.state in COLUMN_OF_STATE:
            return COLUMN_OF_STATE[self.state]
        step = self.failed_step or self.current_step
        return STEP_COLUMN.get(step or "", Column.A_FAZER)

    @property
    def progress(self) -> float:
        """0-100 over the whole pipeline, weighting each step by its usual share of the time."""
        if self.state == S.DONE:
            return 100.0
        done = sum(STEP_WEIGHT[s] for s, st in self.steps.items() if st.status in ("completed", "skipped"))
        running = sum(
            STEP_WEIGHT[s] * st.percent / 100 for s, st in self.steps.items() if st.status == "running"
        )
        return round(min(99.0, done + running), 1)

    def step(self, name: str) -> StepState:
        return self.steps.get(name, StepState())

    def artifacts_of(self, step: str) -> list[ArtifactRef]:
        return sorted((a for a in self.artifacts.values() if a.step == step), key=lambda a: a.name)


def _with_step(state: JobState, name: str, **changes: object) -> dict[str, StepState]:
    steps = dict(state.steps)
    steps[name] = state.step(name).model_copy(update=changes)
    return steps


def _inputs(event: ev.JobCreated | ev.JobConfigured) -> dict[str, object]:
    fields = ("title", "brief", "language", "images", "auto_video", "options")
    return {name: getattr(event, name) for name in fields}


def evolve(state: JobState, event: ev.Event) -> JobState:
    """Apply one event. Unknown event types leave the state as it was (tolerant reader)."""
    upd: dict[str, object] = {"updated_at": event.occurred_at, "events_applied": state.events_applied + 1}
    match event:
        case ev.JobCreated():
            upd |= _inputs(event) | {
                "state": S.DRAFT,
                "config": event.config,
                "project": event.project,
                "created_at": event.occurred_at,
            }
        case ev.JobConfigured():
            upd |= _inputs(event) | {"state": S.READY}
            if event.config is not None:
                upd["config"] = event.config
        case ev.AutoVideoSet():
            upd["auto_video"] = event.enabled
        case ev.AutoTransition():
            upd["state"] = JobStateName(event.to_state)
            if event.target_step is not None:
                upd["target"] = Column(event.target_step)
        case ev.StepRequested():
            upd["current_step"] = event.step
            upd["steps"] = _with_step(
                state,
                event.step,
                status="requested",
                attempt=event.attempt,
                input_hash=event.input_hash,
                worker=None,
                percent=0.0,
                error=None,
                instruction=event.instruction,
            )
        case ev.StepStarted():
            upd["steps"] = _with_step(
                state, event.step, status="running", worker=event.worker, started_at=event.occurred_at
            )
        case ev.LockStolen():
            upd["steps"] = _with_step(state, event.step, worker=event.worker)
        case ev.StepProgress():
            upd["steps"] = _with_step(state, event.step, percent=max(0.0, min(100.0, event.percent)))
        case ev.StepCompleted():
            upd["state"] = DONE_STATE[event.step]
            upd["steps"] = _with_step(
                state,
                event.step,
                status="completed",
                percent=100.0,
                finished_at=event.occurred_at,
                duration_s=event.duration_s,
                metrics=event.metrics,
            )
        case ev.StepSkipped():
            upd["state"] = DONE_STATE[event.step]
            upd["current_step"] = event.step
            upd["steps"] = _with_step(state, event.step, status="skipped", percent=100.0)
        case ev.StepFailed():
            upd["steps"] = _with_step(
                state, event.step, status="failed", error=event.error, finished_at=event.occurred_at
            )
            upd |= {"failed_step": event.step, "last_error": event.error}
        case ev.ArtifactWritten():
            previous = state.artifacts.get(event.name)
            artifacts = dict(state.artifacts)
            artifacts[event.name] = ArtifactRef(
                name=event.name,
                step=event.step,
                kind=event.kind,
                object_name=event.object_name,
                mime_type=event.mime_type,
                size_bytes=event.size_bytes,
                sha256=event.sha256,
                version=(previous.version + 1) if previous else 1,
                metadata=event.metadata,
            )
            upd["artifacts"] = artifacts
        case ev.JobCompleted():
            upd |= {"state": S.DONE, "completed_at": event.occurred_at, "current_step": None}
        case ev.JobFailed():
            upd |= {"state": S.FAILED, "failed_step": event.step, "last_error": event.error}
        case ev.JobCancelled():
            upd["state"] = S.CANCELLED
            if event.step:
                upd["steps"] = _with_step(state, event.step, status="cancelled")
        case ev.JobResumed():
            upd |= {
                "state": RUNNING_STATE[event.step],
                "retry_count": event.retry_count,
                "last_error": None,
            }
        case _:
            return state.model_copy(update={"events_applied": state.events_applied + 1})
    return state.model_copy(update=upd)


def fold(job_id: str, events: list[ev.Event]) -> JobState:
    state = JobState(job_id=job_id)
    for event in events:
        state = evolve(state, event)
    return state
