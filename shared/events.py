"""Events: immutable facts, named in the past tense, one envelope for all.

On the wire an event is JSON: the envelope (`event_id`, `job_id`, `type`, `schema_version`,
`occurred_at`, `actor`) and a `payload` object. Readers are tolerant: unknown fields are ignored
at every level (the payload, its `options`, its `config` snapshot and every item in it), unknown
event types parse as `UnknownEvent`. Unknown fields are refused only where a person can fix them,
at the HTTP boundary. A breaking payload change bumps `schema_version` and registers an upcaster in
`UPCASTERS`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.config import JobConfig
from shared.options import JobOptions, RenderSettings

Trigger = Literal["user_action", "auto_advance", "step_complete"]
Scalar = str | int | float | bool | None


def utcnow() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    """Envelope and base of every event. Subclasses add payload fields and set `type`."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    type: ClassVar[str] = "event"
    schema_version: ClassVar[int] = 1
    ENVELOPE: ClassVar[frozenset[str]] = frozenset(
        {"event_id", "job_id", "type", "schema_version", "occurred_at", "actor"}
    )

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    job_id: str
    occurred_at: datetime = Field(default_factory=utcnow)
    actor: str = "system"

    def payload(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        return {k: v for k, v in data.items() if k not in self.ENVELOPE}

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "event_id": str(self.event_id),
                "job_id": self.job_id,
                "type": self.type,
                "schema_version": self.schema_version,
                "occurred_at": self.occurred_at.isoformat(),
                "actor": self.actor,
                "payload": self.payload(),
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()


class UnknownEvent(Event):
    """An event type this reader does not know (written by a newer version); folds to no change."""

    type: ClassVar[str] = "unknown"
    original_type: str = ""


class _JobInputs(Event):
    """What a person says about a job: the fields of the New-video form."""

    title: str
    brief: str
    language: str
    images: tuple[str, ...] = ()
    auto_video: bool = True
    options: JobOptions = JobOptions()


class JobCreated(_JobInputs):
    type: ClassVar[str] = "job_created"
    config: JobConfig
    project: str = "default"  # who may see the job; fixed for its life
    duplicate_of: str | None = None  # the job whose inputs this one was made from


class JobConfigured(_JobInputs):
    """The job's inputs, complete (DRAFT -> READY) or edited while READY; `config` when re-resolved."""

    type: ClassVar[str] = "job_configured"
    config: JobConfig | None = None


class ConfigRefreshed(Event):
    """The job's config snapshot re-resolved from the registry (a retry with the current
    configuration); `previous` holds the versions it replaced."""

    type: ClassVar[str] = "config_refreshed"
    config: JobConfig
    previous: dict[str, int] = Field(default_factory=dict)


class RenderSettingsChanged(Event):
    """A person changed what only the render uses (music, captions, end card); `settings` holds
    the fields changed, and the job's render settings are every change so far."""

    type: ClassVar[str] = "render_settings_changed"
    settings: RenderSettings


class AutoVideoSet(Event):
    type: ClassVar[str] = "auto_video_set"
    enabled: bool


class AutoTransition(Event):
    """The job moved from one state to another; `target_step` is set when a person asked for a run."""

    type: ClassVar[str] = "auto_transition"
    from_state: str
    to_state: str
    trigger: Trigger
    reason: str = ""
    target_step: str | None = None


class StepRequested(Event):
    type: ClassVar[str] = "step_requested"
    step: str
    attempt: int
    input_hash: str
    pool: str | None = None
    instruction: str | None = None


class StepStarted(Event):
    type: ClassVar[str] = "step_started"
    step: str
    attempt: int
    worker: str


class StepProgress(Event):
    type: ClassVar[str] = "step_progress"
    step: str
    attempt: int
    percent: float
    message: str = ""
    code: str = ""  # the sentence's code in shared.said (the board translates it); "" for free text
    params: dict[str, str | int | float] = Field(default_factory=dict)


class StepCompleted(Event):
    type: ClassVar[str] = "step_completed"
    step: str
    attempt: int
    input_hash: str
    duration_s: float
    metrics: dict[str, float] = Field(default_factory=dict)


class StepFailed(Event):
    type: ClassVar[str] = "step_failed"
    step: str
    attempt: int
    error: str
    code: str = "permanent"


class StepSkipped(Event):
    type: ClassVar[str] = "step_skipped"
    step: str
    input_hash: str
    reason: str


class ArtifactWritten(Event):
    type: ClassVar[str] = "artifact_written"
    step: str
    attempt: int
    name: str
    kind: str
    object_name: str
    mime_type: str
    size_bytes: int
    sha256: str
    metadata: dict[str, Scalar] = Field(default_factory=dict)


class LockStolen(Event):
    type: ClassVar[str] = "lock_stolen"
    step: str
    attempt: int
    previous_worker: str
    worker: str


class JobCompleted(Event):
    type: ClassVar[str] = "job_completed"
    video: str
    duration_s: float


class JobFailed(Event):
    type: ClassVar[str] = "job_failed"
    step: str
    error: str


class JobCancelled(Event):
    type: ClassVar[str] = "job_cancelled"
    step: str | None
    reason: str


class JobResumed(Event):
    type: ClassVar[str] = "job_resumed"
    step: str
    retry_count: int
    instruction: str | None = None


class VersionFile(BaseModel):
    """One file of a script version, in the object store."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    name: str
    kind: str
    object_name: str
    mime_type: str
    size_bytes: int
    sha256: str


class ScriptRevised(Event):
    """A person saved a new version of the script at its review (or restored an older one). `files`
    are all of the version's files; the changed ones follow as `artifact_written` events of the
    script step."""

    type: ClassVar[str] = "script_revised"
    version: int
    files: tuple[VersionFile, ...] = ()
    restored_from: int | None = None
    section: int | None = None  # the section re-recorded at the narration's review


CATALOG: dict[str, type[Event]] = {
    cls.type: cls
    for cls in (
        JobCreated,
        JobConfigured,
        ConfigRefreshed,
        RenderSettingsChanged,
        AutoVideoSet,
        AutoTransition,
        StepRequested,
        StepStarted,
        StepProgress,
        StepCompleted,
        StepFailed,
        StepSkipped,
        ArtifactWritten,
        LockStolen,
        JobCompleted,
        JobFailed,
        JobCancelled,
        JobResumed,
        ScriptRevised,
    )
}

# (type, from_version) -> function that rewrites an old payload into the next version's shape.
UPCASTERS: dict[tuple[str, int], Callable[[dict[str, Any]], dict[str, Any]]] = {}


class UnreadableEvent(ValueError):
    """A message on JOB_EVENTS that is not an event any version wrote: not JSON, not an object, or an
    event whose known fields do not hold. Readers record it (position, reason) and skip it."""


def parse_event(data: bytes) -> Event:
    """Read one event from the wire, upcasting old versions; never raises on unknown fields or types,
    raises `UnreadableEvent` (with a short reason) on anything that is not an event."""
    try:
        return _parse(data)
    except UnreadableEvent:
        raise
    except ValidationError as err:
        where = ".".join(str(part) for part in err.errors()[0]["loc"]) or "event"
        raise UnreadableEvent(f"{where}: {err.errors()[0]['msg']}"[:300]) from err
    except (ValueError, TypeError, KeyError, AttributeError) as err:  # JSON, UTF-8, an upcaster
        raise UnreadableEvent(f"{type(err).__name__}: {err}"[:300]) from err


def peek_type(data: bytes) -> str:
    """An event's type without reading it whole (readers that want a few types); `UnreadableEvent`
    if it is not an event object."""
    try:
        raw = json.loads(data)
    except ValueError as err:
        raise UnreadableEvent(f"{type(err).__name__}: {err}"[:300]) from err
    if not isinstance(raw, dict) or not isinstance(raw.get("type", ""), str):
        raise UnreadableEvent("not an event object with a string type")
    return str(raw.get("type", ""))


def _parse(data: bytes) -> Event:
    raw = json.loads(data)
    if not isinstance(raw, dict):
        raise UnreadableEvent(f"a JSON {type(raw).__name__}, not an event object")
    kind = raw.get("type", "")
    if not isinstance(kind, str):
        raise UnreadableEvent("type: not a string")
    cls = CATALOG.get(kind)
    envelope = {k: raw[k] for k in ("event_id", "job_id", "occurred_at", "actor") if k in raw}
    payload = dict(raw.get("payload") or {})
    if cls is None:
        return UnknownEvent(**envelope, original_type=kind)
    version = int(raw.get("schema_version", 1))
    while version < cls.schema_version:
        payload = UPCASTERS[(kind, version)](payload)
        version += 1
    # `extra="ignore"` overrides every nested model's own setting: a field written by a newer
    # version, anywhere in the event, never makes it unreadable here
    return cls.model_validate(payload | envelope, extra="ignore")


def event_id_for(*parts: object) -> uuid.UUID:
    """A deterministic event id from natural keys, so a repeated decision dedups on `Nats-Msg-Id`."""
    return uuid.uuid5(uuid.NAMESPACE_URL, "vfo:" + ":".join(str(p) for p in parts))
