"""Alembic environment: runs migrations on the connection app.storage.database.migrate gives."""

from alembic import context
from sqlalchemy import create_engine

from app.storage.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:  # `alembic` run by hand: take the URL from the settings
    from app.settings import Settings

    connection = create_engine(Settings().database_url).connect()
context.configure(connection=connection, target_metadata=Base.metadata)
with context.begin_transaction():
    context.run_migrations()
