"""Timestamps: every stored moment is UTC and readable; repair rows written out of range.

Earlier versions stored an imported run's started_at as given: 9999-12-31T23:59:59+14:00
became year 10000 on PostgreSQL, which no Python client can read, and every page listing
the row failed. Such moments are cleared (the optional ones) or set to the import time.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

EARLIEST, LATEST = "2000-01-01 00:00:00+00", "2200-01-01 00:00:00+00"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite stores what Python wrote, so it always reads back
    out = "{col} IS NOT NULL AND ({col} < CAST(:lo AS timestamptz) OR {col} >= CAST(:hi AS timestamptz))"
    bounds = {"lo": EARLIEST, "hi": LATEST}
    for column in ("started_at", "finished_at", "heartbeat_at"):
        op.execute(sa.text(f"UPDATE probe_runs SET {column} = NULL WHERE "
                           + out.format(col=column)).bindparams(**bounds))
    for table in ("probe_runs", "reports"):
        op.execute(sa.text(f"UPDATE {table} SET created_at = now() WHERE "
                           + out.format(col="created_at")).bindparams(**bounds))


def downgrade() -> None:
    pass  # the repaired values are not restored: they could not be read
