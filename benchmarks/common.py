"""Shared by the benchmarks: peak memory of a process tree, machine facts, writing results."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import psutil

RESULTS = Path(__file__).parent / "results"


class PeakMemory:
    """Samples the RSS of this process plus all its children (FFmpeg included) every 50 ms."""

    def __init__(self) -> None:
        self.peak = 0
        self._task: asyncio.Task[None] | None = None

    def _sample(self) -> int:
        me = psutil.Process(os.getpid())
        total = me.memory_info().rss
        for child in me.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        return total

    async def _loop(self) -> None:
        while True:
            self.peak = max(self.peak, self._sample())
            await asyncio.sleep(0.05)

    def __enter__(self) -> PeakMemory:
        self._task = asyncio.get_running_loop().create_task(self._loop())
        return self

    def __exit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()

    @property
    def peak_mb(self) -> float:
        return round(self.peak / 2**20, 1)


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


def save(name: str, result: dict[str, object]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    result = {"measured_at": datetime.now(UTC).isoformat(timespec="seconds"), **result}
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path
