"""Persistence: SQLAlchemy tables, Alembic migrations, reports and the probe-run queue."""
