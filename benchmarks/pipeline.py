"""Pipeline benchmark: jobs per second end to end with instant providers.

The real board (HTTP API, conductor, projector), event store, NATS JetStream (embedded, fsync
always) and database; the script, tts and render workers are instant (each writes one small
artifact). Measures what the factory itself costs per job. Writes benchmarks/results/pipeline.json.
Usage: python -m benchmarks.pipeline [--jobs 200] [--concurrency 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.common import PeakMemory, machine, save
from services.board.main import Board
from services.registry.publisher import publish_defaults
from shared.bus import Bus
from shared.eventstore import EventStore
from shared.natsserver import EmbeddedNats, free_port
from shared.settings import Settings
from shared.worker import StepContext, StepWorker


async def instant(ctx: StepContext) -> dict[str, float]:
    out = ctx.workdir / f"{ctx.item.step}.txt"
    out.write_text(ctx.item.step)
    await ctx.save(out, out.name, "text", "text/plain")
    return {}


async def main(jobs: int, concurrency: int) -> None:
    with tempfile.TemporaryDirectory(prefix="vfo-bench-") as tmp:
        nats = EmbeddedNats(Path(tmp) / "nats").start()
        settings = Settings(NATS_URL=nats.url, data_dir=Path(tmp) / "data", port=free_port())
        stop = asyncio.Event()
        bus = await Bus.connect(nats.url, "bench")
        await bus.ensure()
        await publish_defaults(bus)
        board = Board(settings, bus)
        tasks = [asyncio.create_task(board.serve(stop))]
        for step in ("script", "tts", "render"):
            worker = StepWorker(EventStore(bus), step, instant, worker_id=f"{step}-bench", pool="cpu")
            tasks.append(asyncio.create_task(worker.run(stop)))
        await board.context.ready.wait()
        base = f"http://127.0.0.1:{settings.port}"
        gate = asyncio.Semaphore(concurrency)
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:

            async def create(n: int) -> str:
                async with gate:
                    body = {"title": f"Job {n}", "brief": "One idea. Another idea.", "start": "CONCLUIDO"}
                    response = await client.post("/api/v1/jobs", json=body)
                    response.raise_for_status()
                    return str(response.json()["id"])

            with PeakMemory() as memory:
                began = time.perf_counter()
                await asyncio.gather(*(create(n) for n in range(jobs)))
                while True:
                    done = await client.get("/api/v1/jobs", params={"state": "DONE", "limit": 1})
                    if done.json()["total"] >= jobs:
                        break
                    await asyncio.sleep(0.05)
                wall = time.perf_counter() - began
            listing = (await client.get("/api/v1/jobs", params={"limit": 500})).json()["items"]
        latencies = sorted(
            (_seconds(j["completed_at"]) - _seconds(j["created_at"])) for j in listing if j["completed_at"]
        )
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await bus.close()
        nats.stop()
    result = {
        "what": "jobs end to end (3 steps, instant providers) through API, conductor, workers, projector",
        "jobs": jobs,
        "concurrency": concurrency,
        "wall_s": round(wall, 2),
        "jobs_per_s": round(jobs / wall, 2),
        "job_latency_p50_s": round(statistics.median(latencies), 3),
        "job_latency_p95_s": round(latencies[int(len(latencies) * 0.95) - 1], 3),
        "peak_rss_mb": memory.peak_mb,
        "database": "sqlite",
        "machine": machine(),
    }
    for key, value in result.items():
        print(f"{key:>18}: {value}")
    print("saved", save("pipeline", result))


def _seconds(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp).timestamp()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main(args.jobs, args.concurrency))
