"""Pipeline benchmark: what the factory itself costs per job, with instant providers.

The real board (HTTP API, conductor, projector), event store, NATS JetStream (embedded, fsync on
every write) and database; one worker per step of the pipeline table, each instant (it writes one
small artifact). A client with an API key creates jobs that run to DONE (`start: CONCLUIDO`) and
learns that they finished from the board's server-sent events, as a browser does.

- Throughput: `--jobs` jobs, at most `--concurrency` in flight at a time (a new one is created as
  one finishes): jobs/s, and each job's latency (creation request to its card showing DONE) under
  that load.
- Orchestration overhead: `--solo` jobs one at a time, on the same stack: creation to DONE with
  nothing else running, which is what the factory adds to a job's own work.

Writes benchmarks/results/pipeline.json (and pipeline_<jobs>.json for other sizes).
Usage: python -m benchmarks.pipeline [--jobs 200] [--concurrency 20] [--solo 30] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from httpx_sse import aconnect_sse

from benchmarks.common import RESULTS, PeakMemory, machine, save
from services.board.main import Board
from services.registry.publisher import publish_defaults
from shared.auth import EVERY_PROJECT, KeyRing, Role
from shared.bus import Bus
from shared.eventstore import EventStore
from shared.natsserver import EmbeddedNats, free_port
from shared.pipeline import PIPELINE
from shared.settings import Settings
from shared.worker import Output, StepInput, StepResult, StepWorker


async def instant(step: StepInput) -> StepResult:
    """A provider that takes no time: one small file, named as the step's row declares."""
    name = PIPELINE.spec(step.step).writes[0]
    out = step.workdir / name
    out.write_text(step.step)
    return StepResult(outputs=(Output(out, name, "text", "text/plain"),))


class Finishes:
    """Which jobs the board shows as DONE, from its server-sent events."""

    def __init__(self) -> None:
        self.waiting: dict[str, asyncio.Future[float]] = {}
        self.done: dict[str, float] = {}
        self.connected = asyncio.Event()

    def wait(self, job_id: str) -> asyncio.Future[float]:
        future = asyncio.get_running_loop().create_future()
        if job_id in self.done:
            future.set_result(self.done[job_id])
        else:
            self.waiting[job_id] = future
        return future

    async def follow(self, client: httpx.AsyncClient) -> None:
        async with aconnect_sse(client, "GET", "/api/v1/board/stream") as source:
            async for sse in source.aiter_sse():
                self.connected.set()
                data = json.loads(sse.data)
                cards = (
                    [c for column in data["columns"].values() for c in column]
                    if sse.event == "board"
                    else [data]
                )
                for card in cards:
                    if card["state"] == "DONE" and card["id"] not in self.done:
                        self.done[card["id"]] = time.perf_counter()
                        future = self.waiting.pop(card["id"], None)
                        if future is not None and not future.done():
                            future.set_result(self.done[card["id"]])


async def run_jobs(
    client: httpx.AsyncClient, finishes: Finishes, jobs: int, concurrency: int
) -> tuple[float, list[float]]:
    """`jobs` jobs, `concurrency` at a time; the wall time and each job's latency."""
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def one(n: int) -> None:
        async with gate:
            began = time.perf_counter()
            body = {"title": f"Job {n}", "brief": "One idea. Another idea.", "start": "CONCLUIDO"}
            response = await client.post("/api/v1/jobs", json=body)
            response.raise_for_status()
            finished = await asyncio.wait_for(finishes.wait(response.json()["id"]), timeout=120)
            latencies.append(finished - began)

    began = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(jobs)))
    return time.perf_counter() - began, sorted(latencies)


def _quantile(values: list[float], q: float) -> float:
    return round(values[min(len(values) - 1, int(len(values) * q))], 3)


async def main(
    jobs: int,
    concurrency: int,
    solo: int,
    database_url: str | None = None,
    name: str = "pipeline",
    results: Path | None = RESULTS,
) -> dict[str, Any]:
    """Measure, print and return the figures; save them to `<results>/<name>.json` unless `results`
    is None."""
    with tempfile.TemporaryDirectory(prefix="vfo-bench-") as tmp:
        nats = EmbeddedNats(Path(tmp) / "nats").start()
        settings = Settings(
            NATS_URL=nats.url,
            DATABASE_URL=database_url,
            data_dir=Path(tmp) / "data",
            port=free_port(),
            rate_limit="1000000/minute",
        )
        stop = asyncio.Event()
        bus = await Bus.connect(nats.url, "bench")
        await bus.ensure()
        await publish_defaults(bus)
        token, _ = await KeyRing(bus).create("bench", EVERY_PROJECT, Role.ADMIN, "bench")
        board = Board(settings, bus)
        tasks = [asyncio.create_task(board.serve(stop))]
        for spec in PIPELINE:
            worker = StepWorker(EventStore(bus), spec, instant, worker_id=f"{spec.name}-bench")
            tasks.append(asyncio.create_task(worker.run(stop)))
        await board.context.ready.wait()
        finishes = Finishes()
        headers = {"Authorization": f"Bearer {token}"}
        base = f"http://127.0.0.1:{settings.port}"
        async with (
            httpx.AsyncClient(base_url=base, timeout=60, headers=headers) as client,
            httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(60, read=None), headers=headers) as sse,
        ):
            following = asyncio.create_task(finishes.follow(sse))
            await finishes.connected.wait()
            _, alone = await run_jobs(client, finishes, solo, 1)
            with PeakMemory() as memory:
                wall, latencies = await run_jobs(client, finishes, jobs, concurrency)
            last = (await client.get("/api/v1/jobs", params={"limit": 1})).json()["items"][0]
            history = (await client.get(f"/api/v1/jobs/{last['id']}")).json()["events"]
            following.cancel()
        stop.set()
        await asyncio.gather(*tasks, following, return_exceptions=True)
        await bus.close()
        nats.stop()
    result: dict[str, Any] = {
        "what": (
            f"jobs end to end ({len(PIPELINE.steps)} steps, instant providers) through API, conductor,"
            " workers, projector; NATS fsync on every write; DONE seen on the board's event stream"
        ),
        "jobs": jobs,
        "concurrency": concurrency,
        "wall_s": round(wall, 2),
        "jobs_per_s": round(jobs / wall, 2),
        "job_latency_p50_s": _quantile(latencies, 0.5),
        "job_latency_p95_s": _quantile(latencies, 0.95),
        "solo_jobs": solo,
        "overhead_p50_ms": round(_quantile(alone, 0.5) * 1000, 1),
        "overhead_p95_ms": round(_quantile(alone, 0.95) * 1000, 1),
        "events_per_job": len(history),
        "peak_rss_mb": memory.peak_mb,
        "database": "postgresql" if database_url and database_url.startswith("postgres") else "sqlite",
        "machine": machine(),
    }
    for key, value in result.items():
        print(f"{key:>18}: {value}")
    if results is not None:
        print("saved", save(name, result, results))
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--solo", type=int, default=30, help="jobs run one at a time for the overhead")
    parser.add_argument(
        "--database-url", default=None, help="PostgreSQL, e.g. postgresql://...; default SQLite"
    )
    parser.add_argument(
        "--name", default=None, help="results file name (default: pipeline, or pipeline_<jobs>)"
    )
    parser.add_argument("--no-save", action="store_true", help="print the figures, write no results file")
    args = parser.parse_args()
    name = args.name or ("pipeline" if args.jobs == 200 else f"pipeline_{args.jobs}")
    results = None if args.no_save else RESULTS
    asyncio.run(main(args.jobs, args.concurrency, args.solo, args.database_url, name, results))
