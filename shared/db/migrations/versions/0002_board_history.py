"""Board: story type on jobs, step history for ETAs; templates move to the config KV bucket.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        story_type = sa.Column("story_type", sa.String(32), nullable=False, server_default="historia_geral")
        batch.add_column(story_type)
    op.create_table(
        "step_history",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("job_id", sa.String(64), nullable=False),
        sa.Column("step", sa.String(16), nullable=False),
        sa.Column("recipe", sa.String(64), nullable=False),
        sa.Column("video_preset", sa.String(64), nullable=False),
        sa.Column("size", sa.Float, nullable=False),
        sa.Column("words", sa.Float),
        sa.Column("duration_s", sa.Float, nullable=False),
    )
    op.create_index("ix_step_history_kind", "step_history", ["step", "recipe", "video_preset"])
    op.drop_table("job_templates")


def downgrade() -> None:
    op.create_table(
        "job_templates",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("config", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.drop_index("ix_step_history_kind", "step_history")
    op.drop_table("step_history")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("story_type")
