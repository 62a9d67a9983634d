"""Every stream, subject, bucket and durable name, declared once.

No other module spells a subject as a string literal: they call the helpers below.
"""

from __future__ import annotations

JOB_EVENTS_STREAM = "JOB_EVENTS"
JOB_EVENTS_SUBJECT_PREFIX = "job_events"
JOB_EVENTS_SUBJECTS = f"{JOB_EVENTS_SUBJECT_PREFIX}.>"

WORK_STREAM = "WORK"
WORK_SUBJECT_PREFIX = "work"
WORK_SUBJECTS = f"{WORK_SUBJECT_PREFIX}.>"

CONFIG_BUCKET = "config"
AUTH_BUCKET = "auth"  # API keys (hashed): `key.<id>`
ARTIFACTS_BUCKET = "artifacts"

CONDUCTOR_DURABLE = "conductor"
WEBHOOKS_DURABLE = "webhooks"

STEPS = ("script", "tts", "render")


def job_subject(job_id: str) -> str:
    """The subject that holds every event of one job."""
    return f"{JOB_EVENTS_SUBJECT_PREFIX}.{job_id}"


DEFAULT_POOL = "cpu"
ANY_POOL = "any"  # a video preset's pool that every render host takes


def work_subject(step: str, pool: str | None = None) -> str:
    """`work.script`, `work.tts`, `work.render.<pool>`."""
    if step == "render":
        return f"{WORK_SUBJECT_PREFIX}.render.{pool or DEFAULT_POOL}"
    return f"{WORK_SUBJECT_PREFIX}.{step}"


def work_durable(step: str, pool: str | None = None) -> str:
    """Every instance of one worker kind shares this durable, so each item goes to one of them."""
    return f"render-{pool or DEFAULT_POOL}" if step == "render" else step


def artifact_object(job_id: str, step: str, filename: str) -> str:
    """Object name in the artifacts bucket: `<job_id>/<step>/<file>`."""
    return f"{job_id}/{step}/{filename}"


def upload_object(upload_id: str) -> str:
    return f"uploads/{upload_id}"


def music_object(upload_id: str) -> str:
    """An audio upload, kept apart from images so that neither can stand in for the other."""
    return f"music/{upload_id}"
