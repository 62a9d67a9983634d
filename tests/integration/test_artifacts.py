"""Artifact files through the NATS object store: small ones in one batched read, large ones streamed,
both byte for byte, and a damaged or missing one refused without leaving a partial file."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from shared import artifacts
from shared.artifacts import ArtifactStore
from shared.bus import Bus
from shared.errors import InfrastructureError, NotFound


@pytest.mark.parametrize("size", [0, 1, 128 * 1024, 128 * 1024 + 1, 3 * 1024 * 1024 + 17])
async def test_a_file_comes_back_byte_for_byte(bus: Bus, tmp_path: Path, size: int):
    # given a file of `size` random bytes (empty, one chunk, chunk edges, many chunks)
    source = tmp_path / "source.bin"
    source.write_bytes(os.urandom(size))
    store = ArtifactStore(bus)
    # when it is stored and read back
    stored, digest = await store.put_file("job/step/source.bin", source)
    back = await store.get_file("job/step/source.bin", tmp_path / "out" / "back.bin")
    # then it is the same file, and no partial file is left beside it
    assert (stored, digest) == (size, hashlib.sha256(source.read_bytes()).hexdigest())
    assert back.read_bytes() == source.read_bytes()
    assert [p.name for p in back.parent.iterdir()] == ["back.bin"]


async def test_a_large_file_streams_through_the_object_store_itself(
    bus: Bus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # given a file over the small-object limit (lowered for the test)
    monkeypatch.setattr(artifacts, "SMALL_OBJECT", 1000)
    source = tmp_path / "large.bin"
    source.write_bytes(os.urandom(300 * 1024))
    store = ArtifactStore(bus)
    await store.put_file("job/step/large.bin", source)
    # when it is read back, then it is the same file
    back = await store.get_file("job/step/large.bin", tmp_path / "back.bin")
    assert back.read_bytes() == source.read_bytes()


async def test_a_damaged_object_is_refused_and_leaves_no_file(bus: Bus, tmp_path: Path):
    # given an object whose chunk was replaced behind the store's back
    source = tmp_path / "source.txt"
    source.write_text("the original words")
    store = ArtifactStore(bus)
    await store.put_file("job/step/source.txt", source)
    obs = await bus.artifacts()
    info = await obs.get_info("job/step/source.txt")
    await bus.js.publish(f"$O.artifacts.C.{info.nuid}", b"other words", stream="OBJ_artifacts")
    # when it is read, then the read is refused and nothing is written
    with pytest.raises(InfrastructureError, match="damaged"):
        await store.get_file("job/step/source.txt", tmp_path / "out" / "back.txt")
    assert list((tmp_path / "out").iterdir()) == []


async def test_a_missing_object_is_not_found(bus: Bus, tmp_path: Path):
    with pytest.raises(NotFound, match="not in the object store"):
        await ArtifactStore(bus).get_file("job/step/nothing.txt", tmp_path / "nothing.txt")
    assert not (tmp_path / "nothing.txt").exists()
