"""In-process notifications of what the projector applied: for SSE streams and read-your-writes."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass


@dataclass(frozen=True)
class Applied:
    seq: int
    job_id: str
    type: str


class Hub:
    def __init__(self) -> None:
        self.position = 0
        self._listeners: set[asyncio.Queue[Applied]] = set()
        self._moved = asyncio.Condition()

    def subscribe(self) -> asyncio.Queue[Applied]:
        queue: asyncio.Queue[Applied] = asyncio.Queue(maxsize=10_000)
        self._listeners.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Applied]) -> None:
        self._listeners.discard(queue)

    async def publish(self, applied: list[Applied], position: int) -> None:
        for item in applied:
            for queue in list(self._listeners):
                if queue.full():  # a stalled reader loses its stream rather than the server its memory
                    self._listeners.discard(queue)
                else:
                    queue.put_nowait(item)
        async with self._moved:
            self.position = position
            self._moved.notify_all()

    async def wait_for(self, seq: int, timeout: float = 5.0) -> bool:
        """Wait until the projection has applied `seq`; False on timeout."""
        async with self._moved:
            try:
                await asyncio.wait_for(self._moved.wait_for(lambda: self.position >= seq), timeout)
            except TimeoutError:
                return False
        return True
