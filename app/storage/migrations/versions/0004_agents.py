"""Probe agents, leased and routed probe jobs, reports citing several runs.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("token_hash", sa.String(64)),
        sa.Column("builtin", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.Column("last_seen_at", sa.DateTime(timezone=True)),
        sa.Column("environment", sa.JSON()),
    )
    with op.batch_alter_table("probe_runs") as batch:
        batch.add_column(sa.Column("machine", sa.JSON()))
        batch.add_column(sa.Column("agent_name", sa.String(64)))
        batch.add_column(sa.Column("lease_id", sa.String(32)))
        batch.add_column(sa.Column("lease_expires_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("attempt_log", sa.JSON()))
        batch.add_column(sa.Column("machine_environment", sa.JSON()))
        batch.create_index("ix_probe_runs_agent_status", ["agent_name", "status"])
    with op.batch_alter_table("reports") as batch:
        batch.add_column(sa.Column("probe_run_ids", sa.JSON()))
        batch.add_column(sa.Column("machine_evidence", sa.JSON()))


def downgrade() -> None:
    with op.batch_alter_table("reports") as batch:
        batch.drop_column("machine_evidence")
        batch.drop_column("probe_run_ids")
    with op.batch_alter_table("probe_runs") as batch:
        batch.drop_index("ix_probe_runs_agent_status")
        for column in ("machine_environment", "attempt_log", "attempts", "lease_expires_at",
                       "lease_id", "agent_name", "machine"):
            batch.drop_column(column)
    op.drop_table("agents")
