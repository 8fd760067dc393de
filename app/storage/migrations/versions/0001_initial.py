"""Reports and probe runs.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("title", sa.String(200)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answers", sa.JSON, nullable=False),
        sa.Column("answer_labels", sa.JSON, nullable=False),
        sa.Column("recommendation", sa.JSON, nullable=False),
        sa.Column("rules_version", sa.String(64), nullable=False),
        sa.Column("probe_run_id", sa.String(32)),
        sa.Column("delete_token_hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "probe_runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("models", sa.JSON, nullable=False),
        sa.Column("frameworks", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True)),
        sa.Column("owner", sa.String(200)),
        sa.Column("progress", sa.JSON),
        sa.Column("document", sa.JSON),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_probe_runs_status_created", "probe_runs", ["status", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_probe_runs_status_created", "probe_runs")
    op.drop_table("probe_runs")
    op.drop_table("reports")
