"""The board's read-side tables: a projection of JOB_EVENTS, disposable and rebuildable.

Schema changes go through a migration in `shared/db/migrations/versions/`.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    false,
)

metadata = MetaData()
TZ = DateTime(timezone=True)

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("project", String(64), nullable=False, server_default="default", index=True),
    Column("title", Text, nullable=False),
    Column("brief", Text, nullable=False),
    Column("language", String(16), nullable=False),
    Column("story_type", String(32), nullable=False, server_default="historia_geral"),
    Column("state", String(20), nullable=False, index=True),
    Column("board_column", String(16), nullable=False, index=True),
    Column("progress", Float, nullable=False),
    Column("current_step", String(16)),
    Column("auto_video", Boolean, nullable=False),
    Column("target", String(16)),
    # paused where only a person moves it on (a review pause, or Auto video off and no target)
    Column("waiting_review", Boolean, nullable=False, server_default=false()),
    Column("options", Text, nullable=False, server_default="{}"),  # JobOptions as JSON
    Column("images", Text, nullable=False, server_default="[]"),  # upload ids, as JSON
    # from the job's config snapshot, written when it changes: the whole of it (JSON), and what
    # the board and the ETA read without parsing it (the steps it runs: a Pipeline as JSON)
    Column("config", Text),
    Column("recipe", String(64)),
    Column("video_preset", String(64)),
    Column("pipeline", Text),
    Column("retry_count", Integer, nullable=False),
    Column("failed_step", String(16)),
    Column("last_error", Text),
    Column("created_at", TZ, nullable=False),
    Column("updated_at", TZ, nullable=False),
    Column("completed_at", TZ),
    Column("last_seq", BigInteger, nullable=False),
)

job_steps = Table(
    "job_steps",
    metadata,
    Column("job_id", String(64), primary_key=True),
    Column("step", String(16), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("input_hash", String(64), nullable=False),
    Column("worker", String(128)),
    Column("started_at", TZ),
    Column("finished_at", TZ),
    Column("duration_s", Float),
    Column("percent", Float, nullable=False),
    Column("error", Text),
    Column("metrics", Text, nullable=False, server_default="{}"),  # what the step measured, as JSON
)

job_events = Table(
    "job_events",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("job_id", String(64), nullable=False, index=True),
    Column("type", String(32), nullable=False),
    Column("schema_version", Integer, nullable=False, server_default="1"),  # of `payload`
    Column("step", String(16)),
    Column("occurred_at", TZ, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("payload", Text, nullable=False),
)

artifacts = Table(
    "artifacts",
    metadata,
    Column("job_id", String(64), primary_key=True),
    Column("name", String(128), primary_key=True),
    Column("step", String(16), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("object_name", String(300), nullable=False),
    Column("mime_type", String(64), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("meta", Text, nullable=False),
    Column("created_at", TZ, nullable=False),
)

step_history = Table(
    "step_history",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("job_id", String(64), nullable=False),
    Column("step", String(16), nullable=False),
    Column("recipe", String(64), nullable=False),
    Column("video_preset", String(64), nullable=False),
    Column("size", Float, nullable=False),  # the brief's length in characters
    Column("words", Float),  # the script's length in words, once written
    Column("duration_s", Float, nullable=False),
)
Index("ix_step_history_kind", step_history.c.step, step_history.c.recipe, step_history.c.video_preset)

# messages on JOB_EVENTS the projector could not read or apply: skipped, and shown to admins
unreadable_events = Table(
    "unreadable_events",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("subject", String(256), nullable=False),
    Column("job_id", String(64)),
    Column("reason", Text, nullable=False),
    Column("recorded_at", TZ, nullable=False),
)

projection_positions = Table(
    "projection_positions",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("last_seq", BigInteger, nullable=False),
)

PROJECTION_TABLES = (jobs, job_steps, job_events, artifacts, step_history, unreadable_events)

# The registry's own table: every version of every configuration item (never updated, only added to).
registry_versions = Table(
    "registry_versions",
    metadata,
    Column("kind", String(32), primary_key=True),
    Column("slug", String(80), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("data", Text, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("note", String(200), nullable=False, server_default=""),
    Column("created_at", TZ, nullable=False),
)

# The webhooks service's tables: who wants to hear about which events, and what was sent to them.
webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("project", String(64), nullable=False, index=True),
    Column("url", Text, nullable=False),
    Column("event_types", Text, nullable=False),
    Column("secrets", Text, nullable=False),  # encrypted at rest (VFO_SECRET_KEY)
    Column("active", Boolean, nullable=False),
    Column("disabled_reason", Text),
    Column("created_at", TZ, nullable=False),
)
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", String(40), primary_key=True),  # the stable `webhook-id` of every retry
    Column("subscription_id", String(36), nullable=False, index=True),
    Column("event_type", String(32), nullable=False),
    Column("job_id", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    Column("status", String(16), nullable=False, index=True),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", TZ, index=True),
    Column("created_at", TZ, nullable=False),
    Column("updated_at", TZ, nullable=False),
)
webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("delivery_id", String(40), primary_key=True),
    Column("attempt", Integer, primary_key=True, autoincrement=False),
    Column("at", TZ, nullable=False),
    Column("status_code", Integer),
    Column("latency_ms", Float, nullable=False),
    Column("response_excerpt", Text),
    Column("error", Text),
)
