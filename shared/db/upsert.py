"""INSERT .. ON CONFLICT DO UPDATE for both SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection


async def upsert(conn: AsyncConnection, table: Table, values: dict[str, Any], keys: tuple[str, ...]) -> None:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).values(**values)
    updates = {name: stmt.excluded[name] for name in values if name not in keys}
    await conn.execute(stmt.on_conflict_do_update(index_elements=list(keys), set_=updates))
