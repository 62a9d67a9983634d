"""Jobs belong to a project (API keys of one project see only its jobs).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("project", sa.String(64), nullable=False, server_default="default"))
        batch.create_index("ix_jobs_project", ["project"])


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_index("ix_jobs_project")
        batch.drop_column("project")
