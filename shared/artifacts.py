"""Artifact files in the NATS object store `artifacts`, streamed in chunks both ways."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
from pathlib import Path

from nats.js.api import ObjectInfo
from nats.js.errors import NotFoundError as NotFoundError_
from nats.js.errors import ObjectNotFoundError

from shared import names
from shared.bus import Bus
from shared.errors import InfrastructureError, NotFound

SMALL_OBJECT = 8 << 20  # read in one batched direct get; larger ones stream through a consumer
# The project an upload belongs to (`*`: every project), a header of its entry in the object store
OWNER_HEADER = "Vfo-Project"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class ArtifactStore:
    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    async def put_file(self, object_name: str, path: Path) -> tuple[int, str]:
        """Upload `path` under `object_name`; returns (size in bytes, sha256 hex)."""
        obs = await self.bus.artifacts()
        digest = await asyncio.to_thread(sha256_of, path)

        async def upload() -> None:  # whole again after an outage: the object store replaces it
            with path.open("rb") as handle:
                await obs.put(object_name, handle)

        await self.bus.patiently(f"storing the artifact {object_name}", upload)
        return path.stat().st_size, digest

    async def put_bytes(self, object_name: str, data: bytes) -> tuple[int, str]:
        """Store a small file made in memory; returns (size in bytes, sha256 hex)."""
        obs = await self.bus.artifacts()
        await obs.put(object_name, data)
        return len(data), hashlib.sha256(data).hexdigest()

    async def get_bytes(self, object_name: str) -> bytes:
        """A small file (at most SMALL_OBJECT bytes) whole, in memory."""
        obs = await self.bus.artifacts()
        try:
            info = await obs.get_info(object_name)
        except ObjectNotFoundError as err:
            raise NotFound(f"artifact {object_name} is not in the object store") from err
        if info.size is not None and info.size > SMALL_OBJECT:
            raise InfrastructureError(f"artifact {object_name} is too large to read in memory")
        if info.is_link():
            return bytes((await obs.get(object_name)).data or b"")
        return await self._small(info)

    async def get_file(self, object_name: str, dest: Path) -> Path:
        """Download `object_name` to `dest` (written whole or not at all)."""
        obs = await self.bus.artifacts()
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(f".{dest.name}.{os.getpid()}.part")

        async def download() -> None:
            info = await obs.get_info(object_name)
            if info.size is not None and info.size <= SMALL_OBJECT and not info.is_link():
                partial.write_bytes(await self._small(info))
            else:
                with partial.open("wb") as handle:
                    await obs.get(object_name, writeinto=handle)

        try:
            await self.bus.patiently(f"reading the artifact {object_name}", download)
        except ObjectNotFoundError as err:
            partial.unlink(missing_ok=True)
            raise NotFound(f"artifact {object_name} is not in the object store") from err
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        partial.replace(dest)
        return dest

    async def _small(self, info: ObjectInfo) -> bytes:
        """A small object's chunks in one batched direct get, checked against its digest (the
        object store's own `get` creates a consumer per object: most of a small read's cost)."""
        bucket = names.ARTIFACTS_BUCKET
        chunks = await self.bus.read_subject(f"$O.{bucket}.C.{info.nuid}", 0, stream=f"OBJ_{bucket}")
        data = b"".join(chunk for _, chunk, _ in chunks)
        expected = (info.digest or "").split("=", 1)[-1]
        if (
            len(data) != info.size
            or base64.urlsafe_b64encode(hashlib.sha256(data).digest()).decode() != expected
        ):
            raise InfrastructureError(f"artifact {info.name} came back damaged from the object store")
        return data

    async def exists(self, object_name: str) -> bool:
        obs = await self.bus.artifacts()
        try:
            await self.bus.patiently(
                f"looking for the artifact {object_name}", lambda: obs.get_info(object_name)
            )
        except ObjectNotFoundError:
            return False
        return True

    async def owner(self, object_name: str) -> tuple[bool, str | None]:
        """(stored at all, the project it belongs to); the owner is None for uploads from before
        uploads had owners, and for artifacts."""
        obs = await self.bus.artifacts()
        try:
            info = await obs.get_info(object_name)
        except ObjectNotFoundError:
            return False, None
        return True, _owner_of(info)

    async def owned(self, prefix: str) -> dict[str, str | None]:
        """Every object under `prefix` (`music/`), with its owner (reads the whole bucket's list)."""
        obs = await self.bus.artifacts()
        try:
            infos = await obs.list(ignore_deletes=True)
        except NotFoundError_:  # an empty bucket
            return {}
        return {i.name: _owner_of(i) for i in infos if i.name and i.name.startswith(prefix) and not i.deleted}


def _owner_of(info: ObjectInfo) -> str | None:
    value = (info.headers or {}).get(OWNER_HEADER)
    if isinstance(value, list):
        value = value[0] if value else None
    return str(value) if value else None
