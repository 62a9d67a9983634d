"""Shared by the benchmarks (and the test suite's databases): peak memory of a process tree, machine
facts, writing results, a throwaway PostgreSQL database."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import platform
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import psutil

RESULTS = Path(__file__).parent / "results"


class PeakMemory:
    """The peak RSS of this process plus all its descendants (FFmpeg included), sampled every
    `interval` seconds while the `with` block runs (inside an event loop).

    psutil's `children()` reads every process on the machine (all of /proc), which at 20 samples a
    second cost ~15% of the pipeline benchmark's CPU. On Linux the descendants are found instead
    from `/proc/<pid>/task/<tid>/children`, which reads only this tree's own threads, on every
    sample, so an FFmpeg started a moment ago is counted. Elsewhere psutil looks for them once every
    `refresh` seconds and the processes it found are sampled in between.
    """

    def __init__(self, interval: float = 0.05, refresh: float = 1.0) -> None:
        self.peak = 0
        self.interval = interval
        self.refresh = refresh
        self._me = psutil.Process(os.getpid())
        self._children: dict[int, psutil.Process] = {}
        self._procfs = Path(f"/proc/{self._me.pid}/task/{self._me.pid}/children").exists()
        self._next_scan = -math.inf
        self._task: asyncio.Task[None] | None = None

    def _find_children(self) -> None:
        if self._procfs:
            pids = descendants(self._me.pid)
        elif time.monotonic() >= self._next_scan:
            self._next_scan = time.monotonic() + self.refresh
            pids = {child.pid for child in self._me.children(recursive=True)}
        else:
            return
        for gone in self._children.keys() - pids:
            del self._children[gone]
        for pid in pids - self._children.keys():
            with contextlib.suppress(psutil.NoSuchProcess):
                self._children[pid] = psutil.Process(pid)

    def _sample(self) -> int:
        self._find_children()
        total = self._me.memory_info().rss
        for child in self._children.values():
            with contextlib.suppress(psutil.NoSuchProcess):
                total += child.memory_info().rss
        return total

    async def _loop(self) -> None:
        while True:
            self.peak = max(self.peak, self._sample())
            await asyncio.sleep(self.interval)

    def __enter__(self) -> PeakMemory:
        self._task = asyncio.get_running_loop().create_task(self._loop())
        return self

    def __exit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()

    @property
    def peak_mb(self) -> float:
        return round(self.peak / 2**20, 1)


def descendants(pid: int) -> set[int]:
    """The process ids below `pid`, from /proc/<pid>/task/<tid>/children (Linux 3.5+). A process
    that exits meanwhile is left out."""
    found: set[int] = set()
    pending = [pid]
    while pending:
        parent = pending.pop()
        with contextlib.suppress(OSError):  # the parent exited
            for task in os.scandir(f"/proc/{parent}/task"):
                with contextlib.suppress(OSError):  # the thread exited
                    with open(f"{task.path}/children") as listing:
                        children = [int(child) for child in listing.read().split()]
                    found.update(children)
                    pending.extend(children)
    return found


def machine(ffmpeg: str | None = None) -> dict[str, object]:
    facts: dict[str, object] = {
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    if ffmpeg:
        first = subprocess.run([ffmpeg, "-version"], capture_output=True, text=True, check=False).stdout
        facts["ffmpeg"] = first.splitlines()[0] if first else "unknown"
    return facts


def save(name: str, result: dict[str, object], results: Path = RESULTS) -> Path:
    """Write `result` with the time it was measured to `<results>/<name>.json` (an absolute `name`
    is a path of its own)."""
    results.mkdir(exist_ok=True)
    path = results / f"{name}.json"
    result = {"measured_at": datetime.now(UTC).isoformat(timespec="seconds"), **result}
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path


@contextlib.asynccontextmanager
async def fresh_postgres(admin_url: str, prefix: str = "vfo_bench") -> AsyncIterator[str]:
    """A new PostgreSQL database next to `admin_url`'s, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin_dsn = admin_url.replace("postgresql+asyncpg://", "postgresql://")
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield admin_dsn.rsplit("/", 1)[0] + f"/{name}"
    finally:
        admin = await asyncpg.connect(admin_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
