"""Alembic environment: runs migrations on the URL given by `molodets.migrations`."""

from __future__ import annotations

from typing import Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext

from molodets.db import UTCDateTime, make_engine
from molodets.models import Base

config = context.config
target_metadata = Base.metadata


def _render_item(type_: str, obj: object, _autogen_context: AutogenContext) -> str | Literal[False]:
    # Our UTC type is plain DateTime(timezone=True) in the schema; keep migrations free of app imports.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            # SQLite cannot ALTER most things in place; batch mode rebuilds tables for it.
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            render_item=_render_item,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
