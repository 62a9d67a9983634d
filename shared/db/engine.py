"""Engine factory and migrations (Alembic, run in-process: no alembic.ini needed)."""

from __future__ import annotations

import asyncio
import weakref
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

MIGRATIONS = Path(__file__).parent / "migrations"


def async_url(url: str) -> str:
    """`postgresql://` and `sqlite://` URLs as their async drivers (asyncpg, aiosqlite)."""
    for plain, driver in (
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return driver + url.removeprefix(plain)
    return url


def make_engine(url: str) -> AsyncEngine:
    url = async_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_async_engine(url, pool_size=5, max_overflow=5, pool_pre_ping=True)


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":  # several services may start at once: one migrates at a time
        connection.execute(text("SELECT pg_advisory_xact_lock(7276160)"))
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


# Alembic keeps its migration context in module globals: one migration at a time in a process.
_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest migration (safe when several services start together)."""
    lock = _locks.setdefault(asyncio.get_running_loop(), asyncio.Lock())
    for attempt in range(5):
        try:
            async with lock, engine.begin() as conn:
                await conn.run_sync(_upgrade)
            return
        except DBAPIError:
            if attempt == 4:
                raise
            await asyncio.sleep(0.5 * (attempt + 1))  # another process migrated first; look again
