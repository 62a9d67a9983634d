"""The job state machine's states and the fold `evolve(state, event) -> state` (seed 001, section 3).

11 states, 5 columns, 21 transitions. `evolve` is pure and total: the board, the conductor, the
workers and the projector all fold events with it, so they can never disagree about a job.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared import events as ev
from shared import names
from shared.config import JobConfig
from shared.options import JobOptions, RenderSettings
from shared.pipeline import (
    COLUMN_OF_STATE,
    COLUMN_ORDER,
    PAUSED_STATES,
    PIPELINE,
    RUNNING_STATES,
    Column,
    JobStateName,
    Pipeline,
    Step,
    StepSpec,
)

__all__ = [
    "COLUMN_ORDER",
    "REVIEW_TRANSITIONS",
    "TRANSITIONS",
    "ArtifactRef",
    "Column",
    "JobState",
    "JobStateName",
    "ScriptVersion",
    "StepState",
    "evolve",
    "fold",
]


S = JobStateName
_RUNNING = RUNNING_STATES
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
        (S.DONE, S.RENDER_RUNNING),  # rendered again with changed render settings (issue 14)
    }
    | {(running, end) for running in _RUNNING for end in (S.FAILED, S.CANCELLED)}
    | {(end, running) for end in (S.FAILED, S.CANCELLED) for running in _RUNNING}
)
# Beyond the seed's 21: at the narration's review a person re-records a section (issue 14).
REVIEW_TRANSITIONS: frozenset[tuple[JobStateName, JobStateName]] = frozenset({(S.TTS_DONE, S.TTS_RUNNING)})

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

    @property
    def done(self) -> bool:
        return self.status in ("completed", "skipped")

    @property
    def active(self) -> bool:
        """Asked for or running: a worker has it, or will."""
        return self.status in ("requested", "running")


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


class ScriptVersion(_Frozen):
    """One version of the script: all its files, who saved it and when. Version 1 is what the
    script step wrote; each later one a person's edit (or the restoring of an older version)."""

    version: int
    actor: str
    at: datetime | None = None
    files: tuple[ev.VersionFile, ...] = ()
    restored_from: int | None = None
    section: int | None = None

    def file(self, name: str) -> ev.VersionFile | None:
        return next((f for f in self.files if f.name == name), None)


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
    render: RenderSettings = RenderSettings()  # what a person changed of the render alone
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
    script_versions: tuple[ScriptVersion, ...] = ()  # empty until the first edit

    @property
    def pipeline(self) -> Pipeline:
        """The steps this job runs: the ones its config snapshot names (the table's, before it has one)."""
        return self.config.pipeline if self.config is not None else PIPELINE

    @property
    def run_options(self) -> JobOptions:
        """The options the steps run with: the job's, with the render settings' music."""
        if self.render.music is None:
            return self.options
        return self.options.model_copy(update={"music": self.render.music})

    @property
    def run_config(self) -> JobConfig | None:
        """The config the steps run with: the snapshot, its video preset with the render settings."""
        changes = self.render.video_changes()
        if self.config is None or not changes:
            return self.config
        return self.config.model_copy(update={"video": self.config.video.model_copy(update=changes)})

    @property
    def review_here(self) -> bool:
        """Paused where a person reviews before the job goes on: every pause in step-by-step mode,
        and after the steps the recipe names as checkpoints. Auto video does not move it on."""
        if self.state not in PAUSED_STATES:
            return False
        if self.options.step_by_step:
            return True
        checkpoints = self.config.recipe.checkpoints if self.config else ()
        return any(spec.name in checkpoints for spec in self.pipeline.in_column(self.column))

    @property
    def column(self) -> Column:
        """The board column: FAILED and CANCELLED jobs stay (with a badge) where their step ran."""
        if self.state is None:
            return Column.A_FAZER
        if self.state in COLUMN_OF_STATE:
            return COLUMN_OF_STATE[self.state]
        spec = self.pipeline.get(self.failed_step or self.current_step)
        return spec.column if spec else Column.A_FAZER

    @property
    def progress(self) -> float:
        """0-100 over the whole pipeline, weighting each step by its usual share of the time."""
        if self.state == S.DONE:
            return 100.0
        total = sum(spec.weight for spec in self.pipeline)
        done = 0.0
        for spec in self.pipeline:
            current = self.step(spec.name)
            if current.done:
                done += spec.weight
            elif current.status == "running":
                done += spec.weight * current.percent / 100
        return round(min(99.0, 100 * done / total), 1)

    def step(self, name: str) -> StepState:
        return self.steps.get(name, StepState())

    def column_done(self, spec: StepSpec, steps: dict[str, StepState] | None = None) -> bool:
        """Whether every step of `spec`'s column is done (in `steps`, or in this state)."""
        steps = self.steps if steps is None else steps
        return all(steps.get(s.name, StepState()).done for s in self.pipeline.in_column(spec.column))

    def artifacts_of(self, step: str) -> list[ArtifactRef]:
        return sorted((a for a in self.artifacts.values() if a.step == step), key=lambda a: a.name)

    def versions(self) -> tuple[ScriptVersion, ...]:
        """The script's versions, oldest first: version 1 (the step's) even before any edit."""
        if self.script_versions:
            return self.script_versions
        written = self.step(Step.SCRIPT)
        files = tuple(ev.VersionFile.model_validate(a.model_dump()) for a in self.artifacts_of(Step.SCRIPT))
        if not any(f.name == names.OUTLINE for f in files):
            return ()  # the step has not finished writing it (a stage's answer is kept before the script)
        outline = self.artifacts.get(names.OUTLINE)
        writer = outline.metadata.get("generator") if outline else None  # the model or the offline draft
        actor = str(writer or written.worker or Step.SCRIPT)
        return (ScriptVersion(version=1, actor=actor, at=written.finished_at, files=files),)


def _with_step(state: JobState, name: str, **changes: object) -> dict[str, StepState]:
    steps = dict(state.steps)
    steps[name] = state.step(name).model_copy(update=changes)
    return steps


def _column_finished(state: JobState, step: str, steps: dict[str, StepState]) -> dict[str, object]:
    """The column's done state once its last step is done; nothing while a sibling still runs."""
    spec = state.pipeline.spec(step)
    return {"state": spec.done} if state.column_done(spec, steps) else {}


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
        case ev.ConfigRefreshed():
            upd["config"] = event.config
        case ev.RenderSettingsChanged():
            upd["render"] = state.render.merged(event.settings)
        case ev.AutoVideoSet():
            upd["auto_video"] = event.enabled
        case ev.AutoTransition():
            upd["state"] = JobStateName(event.to_state)
            if state.state == S.DONE:  # rendered again: completed once more when the render is
                upd["completed_at"] = None
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
            steps = _with_step(
                state,
                event.step,
                status="completed",
                percent=100.0,
                finished_at=event.occurred_at,
                duration_s=event.duration_s,
                metrics=event.metrics,
            )
            upd |= {"steps": steps} | _column_finished(state, event.step, steps)
        case ev.StepSkipped():
            upd["current_step"] = event.step
            steps = _with_step(state, event.step, status="skipped", percent=100.0)
            upd |= {"steps": steps} | _column_finished(state, event.step, steps)
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
        case ev.ScriptRevised():
            version = ScriptVersion(
                version=event.version,
                actor=event.actor,
                at=event.occurred_at,
                files=event.files,
                restored_from=event.restored_from,
                section=event.section,
            )
            upd["script_versions"] = (*state.versions(), version)
        case ev.JobCompleted():
            upd |= {"state": S.DONE, "completed_at": event.occurred_at, "current_step": None}
        case ev.JobFailed():
            upd |= {"state": S.FAILED, "failed_step": event.step, "last_error": event.error}
        case ev.JobCancelled():
            upd["state"] = S.CANCELLED
            cancelled = {name for name, step in state.steps.items() if step.active}
            cancelled |= {event.step} if event.step else set()
            steps = dict(state.steps)
            for name in cancelled:
                steps[name] = state.step(name).model_copy(update={"status": "cancelled"})
            upd["steps"] = steps
        case ev.JobResumed():
            upd |= {
                "state": state.pipeline.spec(event.step).running,
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
