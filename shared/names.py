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

# JetStream's advisory that a work item reached its last allowed delivery without an ack (its worker
# died every time), kept in a stream of its own so the conductor hears of it even if it was down
GIVE_UPS_STREAM = "WORK_GIVE_UPS"
GIVE_UPS_SUBJECTS = f"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{WORK_STREAM}.>"
GIVE_UPS_DURABLE = "conductor-give-ups"

CONFIG_BUCKET = "config"
AUTH_BUCKET = "auth"  # API keys (hashed): `key.<id>`
ARTIFACTS_BUCKET = "artifacts"

CONDUCTOR_DURABLE = "conductor"
WEBHOOKS_DURABLE = "webhooks"

# Artifacts that one step writes and another reads (the pipeline table names them per step).
OUTLINE = "outline.json"  # the script as data (shared.script.Script)
SCRIPT_MD = "script.md"
IDEAS_MD = "ideas.md"
OUTLINE_MD = "outline.md"
METADATA = "metadata.json"
SPEND = "spend.json"  # the script step's ledger: what an attempt spent on answers nobody kept
NARRATION = "narration.wav"
CUES = "cues.json"
VIDEO = "video.mp4"
THUMBNAIL = "thumbnail.jpg"
SUBTITLES_SRT = "subtitles.srt"
SUBTITLES_VTT = "subtitles.vtt"
SHORTS = "short-*.mp4"
BACKGROUNDS = "background-*.jpg"  # the pictures generated for a job without uploads, as the drawer shows them
SECTIONS_AUDIO = "section-*.wav"  # the narration of each section, kept to record again only what changed


def short_video(n: int) -> str:
    """The n-th vertical short cut from a video (one of `SHORTS`)."""
    return f"short-{n}.mp4"


def background_image(n: int) -> str:
    """The n-th generated background of a video (one of `BACKGROUNDS`)."""
    return f"background-{n}.jpg"


def section_audio(n: int) -> str:
    """The narration of section n (0: the spoken title), one of `SECTIONS_AUDIO`."""
    return f"section-{n}.wav"


def job_subject(job_id: str) -> str:
    """The subject that holds every event of one job."""
    return f"{JOB_EVENTS_SUBJECT_PREFIX}.{job_id}"


def job_of_subject(subject: str) -> str:
    """The job whose events a JOB_EVENTS subject holds."""
    return subject.removeprefix(f"{JOB_EVENTS_SUBJECT_PREFIX}.")


DEFAULT_POOL = "cpu"
ANY_POOL = "any"  # a video preset's pool that every render host takes


def work_subject(step: str, pool: str | None = None) -> str:
    """`work.script`, `work.tts`; a pooled step's work goes to `work.render.<pool>`."""
    return f"{WORK_SUBJECT_PREFIX}.{step}.{pool}" if pool else f"{WORK_SUBJECT_PREFIX}.{step}"


def work_durable(step: str, pool: str | None = None) -> str:
    """Every instance of one worker kind shares this durable, so each item goes to one of them."""
    return f"{step}-{pool}" if pool else step


def artifact_object(job_id: str, step: str, filename: str) -> str:
    """Object name in the artifacts bucket: `<job_id>/<step>/<file>`."""
    return f"{job_id}/{step}/{filename}"


def script_version_object(job_id: str, sha256: str, filename: str) -> str:
    """A file of an edited script version, named by its content: `<job_id>/script/versions/<sha>/<file>`."""
    return f"{job_id}/script/versions/{sha256[:32]}/{filename}"


def upload_object(upload_id: str) -> str:
    return f"uploads/{upload_id}"


def music_object(upload_id: str) -> str:
    """An audio upload, kept apart from images so that neither can stand in for the other."""
    return f"music/{upload_id}"
