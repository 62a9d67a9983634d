"""Commands: imperative, plain data. `decide(state, command)` turns one into events (shared.decide)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from shared.config import JobConfig
from shared.events import Scalar, VersionFile
from shared.jobstate import Column
from shared.options import JobOptions, RenderSettings


class Command(BaseModel):
    model_config = ConfigDict(frozen=True)
    actor: str = "system"


class _JobInputs(Command):
    title: str
    brief: str
    language: str
    images: tuple[str, ...] = ()
    auto_video: bool = True
    options: JobOptions = JobOptions()


class CreateJob(_JobInputs):
    config: JobConfig
    project: str = "default"
    duplicate_of: str | None = None


class Configure(_JobInputs):
    """Edit a job that has not started (DRAFT or READY); `config` when the language changed."""

    config: JobConfig | None = None


class SetAutoVideo(Command):
    """Switch Auto video for one job; switching it on also moves a paused job along."""

    enabled: bool


class MoveToColumn(Command):
    """Drag a card: run the job until the column's target (seed 5.1, executeUntil)."""

    column: Column


class Advance(Command):
    """Go on from where the job is, if Auto video or the target asks for it: finishes a decision
    that was cut short between its appends (nothing to do when it was not)."""


class Cancel(Command):
    reason: str = "cancelled by user"


class Resume(Command):
    """Start again from the step that failed or was cancelled; `instruction` feeds a retried step;
    `config`, the recipe's items resolved again (a retry with the current configuration)."""

    instruction: str | None = Field(default=None, max_length=4000)
    config: JobConfig | None = None


class Render(Command):
    """Render (again) at RENDER_READY or on a finished video, with `settings` changed first;
    script and narration stay as they are."""

    settings: RenderSettings = RenderSettings()


class StartStep(Command):
    step: str
    attempt: int
    worker: str
    redelivered: bool = False  # only a redelivery after the ack deadline may take over a running step


class ReportProgress(Command):
    step: str
    attempt: int
    percent: float
    message: str = ""
    code: str = ""  # a sentence of shared.said, which the board translates; "" for free text
    params: dict[str, str | int | float] = Field(default_factory=dict)


class RecordArtifact(Command):
    step: str
    attempt: int
    name: str
    kind: str
    object_name: str
    mime_type: str
    size_bytes: int
    sha256: str
    metadata: dict[str, Scalar] = Field(default_factory=dict)


class CompleteStep(Command):
    step: str
    attempt: int
    duration_s: float
    metrics: dict[str, float] = Field(default_factory=dict)


class FailStep(Command):
    step: str
    attempt: int
    error: str
    code: str = "permanent"


class ReviseScript(Command):
    """Save a new version of the script at its review (SCRIPT_DONE), or at the narration's review
    (TTS_DONE), where the narration is recorded again. `base_version`: the version the edit was
    made on (refused when another was saved since)."""

    files: tuple[VersionFile, ...]  # every file of the new version (the unchanged ones too)
    base_version: int | None = None
    restored_from: int | None = None
    section: int | None = None


class Approve(Command):
    """Go on from a review pause (SCRIPT_DONE, TTS_DONE, RENDER_READY)."""
