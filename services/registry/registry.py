"""The registry's use cases: save a version, roll back, (de)activate, import, export, publish.

The database holds every version; the KV bucket `config` holds the current active version of every
item, which is all that workers and the board ever read.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import yaml
from nats.js.errors import KeyNotFoundError, NoKeysError
from pydantic import BaseModel

from services.registry import catalog
from services.registry.music import MusicUploads
from services.registry.store import RegistryStore, Version
from shared.artifacts import ArtifactStore
from shared.bus import Bus
from shared.config import KINDS, Recipe
from shared.errors import InvalidInput, TransitionRefused

log = logging.getLogger(__name__)
Item = Callable[[str, str], Awaitable[BaseModel | None]]
DEFAULTS = Path(__file__).parent / "defaults.yaml"
# Referenced kinds first, so an import can create a recipe and the prompts it names together.
SHIPPED = "shipped defaults"
SHIPPED_FIELDS = "fields of a newer release added"
ORDER = ("providers", "presets", "validators", "knowledge", "prompts", "recipes", "projects")


def load_defaults() -> dict[str, list[dict[str, Any]]]:
    loaded: dict[str, list[dict[str, Any]]] = yaml.safe_load(DEFAULTS.read_text(encoding="utf-8"))
    return loaded


def published(version: Version) -> BaseModel:
    """The item as KV carries it: validated, with its registry version and active flag."""
    item = catalog.read(version.kind, version.slug, version.data)
    return item.model_copy(update={"version": version.version, "active": version.active})


def as_yaml(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=True, width=100)


class Registry:
    def __init__(self, store: RegistryStore, bus: Bus) -> None:
        self.store = store
        self.bus = bus

    async def exists(self, kind: str, slug: str) -> bool:
        current = await self.store.current(kind, slug)
        return current is not None and current.active

    async def item(self, kind: str, slug: str) -> BaseModel | None:
        """The current active item, or None."""
        current = await self.store.current(kind, slug)
        return catalog.read(kind, slug, current.data) if current is not None and current.active else None

    def lookups(self, exists: catalog.Exists | None = None, item: Item | None = None) -> catalog.Lookups:
        music = MusicUploads(ArtifactStore(self.bus))
        return catalog.Lookups(exists or self.exists, item or self.item, music.problem, music.choices)

    async def check(self, kind: str, slug: str, data: dict[str, Any]) -> BaseModel:
        """Everything a save checks, without saving (the admin page's live validation)."""
        item = catalog.parse(kind, slug, data)
        await catalog.check(item, self.lookups())
        return item

    async def create(self, kind: str, data: dict[str, Any]) -> Version:
        slug = str(data.get("slug") or "")
        if not slug:
            raise InvalidInput("slug", "is required: the item's name, unique within its kind")
        if await self.store.current(kind, slug):
            raise TransitionRefused(
                "existing", f"create {kind} {slug!r}", "it exists; save a new version instead"
            )
        return await self.save(kind, slug, data, note="created")

    async def save(
        self, kind: str, slug: str, data: dict[str, Any], note: str = "", active: bool | None = None
    ) -> Version:
        await self.check(kind, slug, data)
        current = await self.store.current(kind, slug)
        keep_active = current.active if current else True
        version = await self.store.save(kind, slug, data, keep_active if active is None else active, note)
        await self.publish(version)
        return version

    async def rollback(self, kind: str, slug: str, number: int) -> Version:
        old = await self.store.version(kind, slug, number)
        return await self.save(kind, slug, old.data, note=f"rollback to v{number}")

    async def set_active(self, kind: str, slug: str, active: bool) -> Version:
        current = await self.store.require(kind, slug)
        if current.active == active:
            return current
        if not active:
            users = await self.users_of(kind, slug)
            if users:
                raise TransitionRefused(
                    "active", f"deactivate {kind} {slug!r}", f"{', '.join(users)} use(s) it"
                )
        version = await self.store.save(
            kind, slug, current.data, active, "activated" if active else "deactivated"
        )
        await self.publish(version)
        return version

    async def users_of(self, kind: str, slug: str) -> list[str]:
        users = []
        for version in await self.store.latest():
            if not version.active or version.kind not in ("recipes", "projects", "presets"):
                continue
            item = catalog.read(version.kind, version.slug, version.data)
            if any((k, s) == (kind, slug) for _, k, s in catalog.references(item)):
                users.append(f"{version.kind.removesuffix('s')} {version.slug}")
        return users

    async def diff(self, kind: str, slug: str, old: int, new: int) -> str:
        a, b = await self.store.version(kind, slug, old), await self.store.version(kind, slug, new)
        return "".join(
            difflib.unified_diff(
                as_yaml(a.data).splitlines(keepends=True),
                as_yaml(b.data).splitlines(keepends=True),
                fromfile=f"{slug} v{old}",
                tofile=f"{slug} v{new}",
            )
        )

    async def publish(self, version: Version) -> None:
        kv = await self.bus.config()
        key = catalog.kv_key(version.kind, version.slug)
        if version.active:
            await kv.put(key, published(version).model_dump_json().encode())
        else:
            with contextlib.suppress(KeyNotFoundError):
                await kv.delete(key)

    async def reconcile(self) -> None:
        """Make KV hold exactly the active current items (after a restart, a restore, a crash)."""
        current = await self.store.latest()
        wanted = {catalog.kv_key(v.kind, v.slug) for v in current if v.active}
        for version in current:
            await self.publish(version)
        kv = await self.bus.config()
        try:
            keys = await kv.keys()
        except NoKeysError:
            keys = []
        prefixes = tuple(f"{prefix}." for prefix, _ in KINDS.values())
        for key in keys:
            if key.startswith(prefixes) and key not in wanted:
                await kv.delete(key)

    async def export(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {kind: [] for kind in ORDER}
        for version in await self.store.latest():
            out[version.kind].append(version.data | ({} if version.active else {"active": False}))
        return {kind: items for kind, items in out.items() if items}

    async def import_(self, document: Any, note: str = "imported") -> dict[str, int]:
        """Check every item of the document first; change nothing unless all of it is right."""
        if not isinstance(document, dict) or not set(document) <= set(KINDS):
            raise InvalidInput("document", f"must map kinds ({', '.join(KINDS)}) to lists of items")
        incoming: dict[tuple[str, str], dict[str, Any]] = {}
        errors: list[dict[str, str]] = []
        for kind in ORDER:
            for n, data in enumerate(document.get(kind) or []):
                if not isinstance(data, dict) or not data.get("slug"):
                    errors.append({"field": f"{kind}.{n}", "message": "needs a slug"})
                    continue
                incoming[(kind, str(data["slug"]))] = data

        async def exists(kind: str, slug: str) -> bool:
            new = incoming.get((kind, slug))
            return bool(new.get("active", True)) if new is not None else await self.exists(kind, slug)

        async def item(kind: str, slug: str) -> BaseModel | None:
            new = incoming.get((kind, slug))
            if new is None:
                return await self.item(kind, slug)
            return catalog.read(kind, slug, new) if new.get("active", True) else None

        lookups = self.lookups(exists, item)
        for (kind, slug), data in incoming.items():
            try:
                await catalog.check(catalog.parse(kind, slug, data), lookups)
            except InvalidInput as err:
                errors += [
                    {"field": f"{kind}.{slug}.{e['field']}", "message": e["message"]} for e in err.errors
                ]
        if errors:
            raise InvalidInput.of(errors, f"{len(errors)} problem(s); nothing was imported")
        counts = {"created": 0, "updated": 0, "unchanged": 0}
        for (kind, slug), data in incoming.items():
            current = await self.store.current(kind, slug)
            active = bool(data.get("active", True))
            clean = {k: v for k, v in data.items() if k not in ("active", "version")}
            if current and current.data == clean | {"slug": slug} and current.active == active:
                counts["unchanged"] += 1
                continue
            version = await self.store.save(kind, slug, clean, active, note)
            await self.publish(version)
            counts["updated" if current else "created"] += 1
        return counts

    async def seed_if_empty(self) -> None:
        if await self.store.empty():
            counts = await self.import_(load_defaults(), note=SHIPPED)
            log.info("registry: seeded the shipped configuration: %s", json.dumps(counts))

    async def add_shipped_fields(self) -> list[str]:
        """Give the shipped items nobody has changed the fields this release ships for them and
        they lack (the neural voices' `fallback`, say): a new version each, noted. An item a person
        saved is theirs, and left as it is; so are the values of fields it has."""
        added = []
        for kind, items in load_defaults().items():
            for shipped in items:
                slug = str(shipped["slug"])
                current = await self.store.current(kind, slug)
                if current is None or current.note not in (SHIPPED, SHIPPED_FIELDS):
                    continue
                missing = {k: v for k, v in shipped.items() if k not in current.data}
                if not missing:
                    continue
                data = current.data | missing
                try:
                    await self.check(kind, slug, data)
                except InvalidInput as err:
                    log.warning("registry: %s %s keeps its fields: %s", kind, slug, err)
                    continue
                version = await self.store.save(kind, slug, data, current.active, SHIPPED_FIELDS)
                await self.publish(version)
                added.append(f"{kind} {slug}: {', '.join(sorted(missing))}")
        if added:
            log.info("registry: shipped fields added to %s", "; ".join(added))
        return added

    async def execution_map(self) -> list[dict[str, Any]]:
        """Which prompts, presets and validators each recipe step uses, with their current versions."""
        latest = {(v.kind, v.slug): v for v in await self.store.latest()}
        out = []
        for (kind, slug), version in sorted(latest.items()):
            if kind != "recipes":
                continue
            recipe = catalog.read(kind, slug, version.data)
            assert isinstance(recipe, Recipe)
            uses = []
            for field, ref_kind, ref_slug in catalog.references(recipe):
                ref = latest.get((ref_kind, ref_slug))
                uses.append(
                    {
                        "field": field,
                        "kind": ref_kind,
                        "slug": ref_slug,
                        "version": ref.version if ref else None,
                        "active": bool(ref and ref.active),
                    }
                )
            out.append(
                {
                    "recipe": slug,
                    "name": recipe.name,
                    "version": version.version,
                    "active": version.active,
                    "uses": uses,
                }
            )
        return out
