"""Jobs keep what the pages read as columns; the JSON copy of the whole job state (`snapshot`) goes.

`jobs` gains `options`, `images`, `config` (the job's config snapshot), `recipe`, `video_preset`
and `pipeline` (the steps the job runs); `job_steps` gains `metrics`; `job_events` gains the
`schema_version` of each payload (so the projector can fold a job's rows again, upcasting old ones).
Existing rows are filled from `snapshot` before it is dropped.

Revision ID: 0006
Revises: 0005
"""

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

PROJECTION = ("jobs", "job_steps", "job_events", "artifacts", "step_history")


def _json(value: Any, sort_keys: bool = False) -> str:
    """JSON as the projector writes it (pydantic's compact form; its own dicts with sorted keys)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys)


def _columns(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The new `jobs` columns from a JobState as JSON (read as plain JSON: no application model)."""
    config = snapshot.get("config")
    pipeline = config.get("pipeline") if config else None
    return {
        "options": _json(snapshot.get("options") or {}),
        "images": _json(list(snapshot.get("images") or [])),
        "config": _json(config) if config else None,
        "recipe": config["recipe"]["slug"] if config else None,
        "video_preset": config["video"]["slug"] if config else None,
        "pipeline": _json(pipeline) if pipeline else None,  # None: the table of the day (PIPELINE)
    }


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("options", sa.Text, nullable=False, server_default="{}"))
        batch.add_column(sa.Column("images", sa.Text, nullable=False, server_default="[]"))
        batch.add_column(sa.Column("config", sa.Text))
        batch.add_column(sa.Column("recipe", sa.String(64)))
        batch.add_column(sa.Column("video_preset", sa.String(64)))
        batch.add_column(sa.Column("pipeline", sa.Text))
    with op.batch_alter_table("job_steps") as batch:
        batch.add_column(sa.Column("metrics", sa.Text, nullable=False, server_default="{}"))
    with op.batch_alter_table("job_events") as batch:
        batch.add_column(sa.Column("schema_version", sa.Integer, nullable=False, server_default="1"))

    conn = op.get_bind()
    jobs = sa.table(
        "jobs",
        *(sa.column(name) for name in ("id", "snapshot", "options", "images", "config")),
        *(sa.column(name) for name in ("recipe", "video_preset", "pipeline")),
    )
    steps = sa.table("job_steps", sa.column("job_id"), sa.column("step"), sa.column("metrics"))
    update_job = jobs.update().where(jobs.c.id == sa.bindparam("job_id"))
    update_step = steps.update().where(
        steps.c.job_id == sa.bindparam("job"), steps.c.step == sa.bindparam("name")
    )
    for job_id, raw in conn.execute(sa.select(jobs.c.id, jobs.c.snapshot)).all():
        snapshot = json.loads(raw)
        conn.execute(update_job, [{"job_id": job_id, **_columns(snapshot)}])
        metrics = [
            {"job": job_id, "name": name, "metrics": _json(step.get("metrics") or {}, sort_keys=True)}
            for name, step in (snapshot.get("steps") or {}).items()
        ]
        if metrics:
            conn.execute(update_step, metrics)

    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("snapshot")


def downgrade() -> None:
    # The snapshot cannot be written without folding events; the projection is disposable, so it is
    # emptied and the projector of that version replays it from sequence 1.
    for table in PROJECTION:
        op.execute(sa.table(table).delete())
    op.execute(sa.text("DELETE FROM projection_positions WHERE name = 'board'"))
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("snapshot", sa.Text, nullable=False, server_default=""))
        for name in ("pipeline", "video_preset", "recipe", "config", "images", "options"):
            batch.drop_column(name)
    with op.batch_alter_table("job_steps") as batch:
        batch.drop_column("metrics")
    with op.batch_alter_table("job_events") as batch:
        batch.drop_column("schema_version")
