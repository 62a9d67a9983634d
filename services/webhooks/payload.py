"""What subscribers receive: a thin, versioned JSON body. `schema()` is its published JSON Schema."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from shared.events import Event, JobCancelled, JobCompleted, JobFailed, StepCompleted
from shared.jobstate import JobState

PUBLIC_TYPES: dict[str, str] = {
    "job_completed": "job.completed",
    "job_failed": "job.failed",
    "job_cancelled": "job.cancelled",
    "step_completed": "step.completed",
}


class JobData(BaseModel):
    job_id: str
    title: str
    project: str = "default"
    state: str
    step: str | None = None
    failed_step: str | None = None
    reason: str | None = None
    duration_s: float | None = None
    links: dict[str, str] = Field(
        default_factory=dict,
        description="the job (needs an API key) and its artifacts (signed links that expire; no key needed)",
    )


class WebhookPayload(BaseModel):
    type: Literal["job.completed", "job.failed", "job.cancelled", "step.completed"]
    version: int = 1
    timestamp: datetime
    data: JobData


def build(event: Event, job: JobState, public_url: str, sign: Callable[[str], str]) -> WebhookPayload:
    """The body for `event`; `sign` turns an artifact's path into a signed, expiring one."""
    base = public_url.rstrip("/")
    links = {"job": f"{base}/api/v1/jobs/{job.job_id}"}
    links |= {
        ref.name: base + sign(f"/api/v1/jobs/{job.job_id}/artifacts/{ref.name}")
        for ref in job.artifacts.values()
    }
    data: dict[str, Any] = {
        "job_id": job.job_id,
        "title": job.title,
        "project": job.project,
        "state": str(job.state),
        "links": links,
    }
    match event:
        case JobCompleted():
            data["duration_s"] = event.duration_s
        case JobFailed():
            data |= {"failed_step": event.step, "reason": event.error}
        case JobCancelled():
            data |= {"step": event.step, "reason": event.reason}
        case StepCompleted():
            data |= {"step": event.step, "duration_s": event.duration_s}
    return WebhookPayload(type=PUBLIC_TYPES[event.type], timestamp=event.occurred_at, data=JobData(**data))


def schema() -> dict[str, Any]:
    return WebhookPayload.model_json_schema()
