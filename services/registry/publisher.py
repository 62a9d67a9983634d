"""Publish the shipped configuration straight to KV, without the registry's database.

For tests and benchmarks that run workers without a registry service; the registry itself seeds its
database from the same file and publishes from there.
"""

from __future__ import annotations

from nats.js.errors import KeyWrongLastSequenceError

from services.registry import catalog
from services.registry.registry import ORDER, load_defaults
from shared.bus import Bus


async def publish_defaults(bus: Bus) -> int:
    """Create every shipped item that KV does not have yet (as version 1); returns how many."""
    kv = await bus.config()
    created = 0
    defaults = load_defaults()
    for kind in ORDER:
        for data in defaults.get(kind, []):
            item = catalog.parse(kind, data["slug"], data).model_copy(update={"version": 1})
            try:
                await kv.create(catalog.kv_key(kind, data["slug"]), item.model_dump_json().encode())
            except KeyWrongLastSequenceError:
                continue
            created += 1
    return created
