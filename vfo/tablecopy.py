"""The registry's and the webhooks service's tables, copied row by row as JSON Lines, one file a
table. The board's tables are not copied: they are a projection, rebuilt from the events."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Table, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.db import tables as t
from shared.errors import InvalidInput

TABLES: tuple[Table, ...] = (
    t.registry_versions,
    t.webhook_subscriptions,
    t.webhook_deliveries,
    t.webhook_attempts,
)
BATCH = 500


def file_of(table: Table) -> str:
    return f"tables/{table.name}.jsonl"


def _encode(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


async def _snapshot(conn: AsyncConnection) -> AsyncConnection:
    """Make every read on `conn` see one moment: one read transaction over every table."""
    if conn.dialect.name == "postgresql":
        return await conn.execution_options(isolation_level="REPEATABLE READ")
    if conn.dialect.name == "sqlite":
        await conn.exec_driver_sql("BEGIN")  # the sqlite3 module opens none for reads on its own
    return conn


async def dump(engine: AsyncEngine, folder: Path) -> dict[str, int]:
    """Write every row of every table under `folder` (read in one transaction); rows per table."""
    counts: dict[str, int] = {}
    async with engine.connect() as plain:
        conn = await _snapshot(plain)
        for table in TABLES:
            rows = await conn.execute(select(table).order_by(*table.primary_key.columns))
            path = folder / file_of(table)
            path.parent.mkdir(parents=True, exist_ok=True)
            lines = [json.dumps({k: _encode(v) for k, v in row.items()}) for row in rows.mappings()]
            path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
            counts[table.name] = len(lines)
        await conn.rollback()
    return counts


def decode(table: Table, line: str) -> dict[str, Any]:
    """One row of `table` from its line in a backup (ValueError, TypeError: the line is not one)."""
    row = json.loads(line)
    if not isinstance(row, dict):
        raise ValueError("not a JSON object")
    unknown = set(row) - set(table.columns.keys())
    if unknown:
        raise InvalidInput(
            "backup",
            f"{table.name} has columns this version does not know ({', '.join(sorted(unknown))}): "
            "the backup was made by a newer Video Factory; restore it with that version",
        )
    for column in table.columns:
        if isinstance(column.type, DateTime) and row.get(column.name) is not None:
            row[column.name] = datetime.fromisoformat(row[column.name])
    return row


async def count_rows(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        return {
            table.name: (await conn.execute(select(func.count()).select_from(table))).scalar_one()
            for table in TABLES
        }


async def load(engine: AsyncEngine, folder: Path) -> dict[str, int]:
    """Replace every row of every table with the backup's, in one transaction; rows per table."""
    counts: dict[str, int] = {}
    async with engine.begin() as conn:
        for table in TABLES:
            lines = (folder / file_of(table)).read_text(encoding="utf-8").splitlines()
            rows = [decode(table, line) for line in lines if line]
            await conn.execute(delete(table))
            for start in range(0, len(rows), BATCH):
                await conn.execute(insert(table), rows[start : start + BATCH])
            counts[table.name] = len(rows)
    return counts
