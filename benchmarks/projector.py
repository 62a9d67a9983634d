"""Projector benchmark: how many events a second the board's projector applies.

The streams are what real jobs record: each job is created with a real config snapshot (the
registry's shipped defaults, published to an embedded NATS and resolved by `ConfigReader`, as the
board resolves it), then run to DONE through `decide`: the transitions, and for every step of the
pipeline table step_requested, step_started, one step_progress, artifact_written for each artifact
the step declares, step_completed; then job_completed. `--concurrent` jobs run at a time, their
events interleaved. The events are read back from their wire form (as the projector gets them)
before the clock starts; how fast that parsing goes is reported apart.

They are applied through the real `Projector.apply`, `--batch` events a transaction (the batch the
stream reader hands over), into a fresh SQLite file and into a fresh PostgreSQL database (created
through `--database-url`, dropped after): once with the projector's LRU of job states (the live
case) and once with none (every batch folds its jobs again from `job_events`, as after a restart).

Prints events/s for each and writes benchmarks/results/projector.json.
Usage: python -m benchmarks.projector [--jobs 2000] [--batch 500] [--concurrent 50]
       [--database-url postgresql://postgres@127.0.0.1:5432/postgres | ""] [--no-save]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import mimetypes
import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import cast

from sqlalchemy import func, select

from benchmarks.common import RESULTS, fresh_postgres, machine, save
from services.board.hub import Hub
from services.board.projector import BATCH, CACHED_JOBS, Projector
from services.registry.publisher import publish_defaults
from shared import commands as cmd
from shared.bus import Bus
from shared.config import JobConfig
from shared.configstore import ConfigReader
from shared.db import tables as t
from shared.db.engine import make_engine, migrate
from shared.decide import decide
from shared.events import Event, parse_event
from shared.jobstate import Column, JobState, JobStateName, evolve
from shared.natsserver import EmbeddedNats
from shared.pipeline import Step

BRIEF = (
    "The lighthouse keepers of the northern coast kept logbooks for two centuries: storms, wrecks, "
    "the birds that struck the lamp, and the long winters when no ship came. "
)
DEFAULT_POSTGRES = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


async def job_config(bus: Bus, recipe: str = "narrated-story", language: str = "en-US") -> JobConfig:
    """The config snapshot a job of `recipe` gets from the shipped defaults."""
    await publish_defaults(bus)
    return await ConfigReader(bus).resolve(recipe, language)


async def shipped_config() -> JobConfig:
    with tempfile.TemporaryDirectory(prefix="vfo-bench-") as tmp:
        server = EmbeddedNats(Path(tmp) / "nats").start()
        try:
            bus = await Bus.connect(server.url, "bench-projector")
            try:
                await bus.ensure()
                return await job_config(bus)
            finally:
                await bus.close()
        finally:
            server.stop()


def job_stream(job_id: str, config: JobConfig, n: int) -> list[Event]:
    """One job from creation to DONE, as the board, the conductor and the workers record it."""
    state, events = JobState(job_id=job_id), []

    def run(command: cmd.Command) -> None:
        nonlocal state
        for event in decide(state, command):
            state = evolve(state, event)
            events.append(event)

    brief = BRIEF * (1 + n % 5)
    run(cmd.CreateJob(title=f"Job {n}", brief=brief, language="en-US", config=config, actor="bench"))
    run(cmd.MoveToColumn(column=Column.CONCLUIDO, actor="bench"))
    for spec in state.pipeline:
        attempt = state.step(spec.name).attempt
        run(cmd.StartStep(step=spec.name, attempt=attempt, worker=f"{spec.name}-worker-1"))
        run(cmd.ReportProgress(step=spec.name, attempt=attempt, percent=50.0, message="halfway"))
        for name in (name for name in spec.writes if "*" not in name):
            mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
            run(
                cmd.RecordArtifact(
                    step=spec.name,
                    attempt=attempt,
                    name=name,
                    kind=mime.split("/")[0],
                    object_name=f"{job_id}/{spec.name}/{name}",
                    mime_type=mime,
                    size_bytes=1000 + len(brief) * 7,
                    sha256=hashlib.sha256(f"{job_id}/{name}".encode()).hexdigest(),
                )
            )
        words = {"words": float(len(brief) // 4)} if spec.name == Step.SCRIPT else {}
        run(cmd.CompleteStep(step=spec.name, attempt=attempt, duration_s=1.0 + n % 7, metrics=words))
        run(cmd.Advance())
    assert state.state == JobStateName.DONE, state.state
    return events


def interleaved(streams: list[list[Event]], concurrent: int) -> list[Event]:
    """The jobs' events as the stream holds them: `concurrent` jobs at a time, turn by turn."""
    out: list[Event] = []
    for first in range(0, len(streams), concurrent):
        wave = streams[first : first + concurrent]
        for turn in range(max(map(len, wave))):
            out += (stream[turn] for stream in wave if turn < len(stream))
    return out


async def project(url: str, events: list[Event], batch: int, cached_jobs: int) -> dict[str, object]:
    """Apply `events` into the (empty) database at `url`: events/s, and the rows each table holds."""
    engine = make_engine(url)
    try:
        await migrate(engine)
        projector = Projector(cast(Bus, None), engine, Hub(), cached_jobs=cached_jobs)  # apply() needs no bus
        rows = list(enumerate(events, start=1))
        began = time.perf_counter()
        for first in range(0, len(rows), batch):
            await projector.apply(rows[first : first + batch])
        wall = time.perf_counter() - began
        async with engine.connect() as conn:
            counts = {
                table.name: int(await conn.scalar(select(func.count()).select_from(table)) or 0)
                for table in t.PROJECTION_TABLES
            }
            done = await conn.scalar(select(func.count()).where(t.jobs.c.state == JobStateName.DONE))
    finally:
        await engine.dispose()
    return {"events_per_s": round(len(events) / wall), "wall_s": round(wall, 2), "rows": counts, "done": done}


async def main(
    jobs: int,
    batch: int = BATCH,
    concurrent: int = 50,
    postgres: str | None = DEFAULT_POSTGRES,
    results: Path | None = RESULTS,
    config: JobConfig | None = None,
) -> dict[str, object]:
    """Measure, print and return the figures (PostgreSQL unless `postgres` is None); save them to
    `<results>/projector.json` unless `results` is None."""
    config = config or await shipped_config()
    streams = [job_stream(str(uuid.uuid4()), config, n) for n in range(jobs)]
    wire = [event.to_json() for event in interleaved(streams, concurrent)]
    began = time.perf_counter()
    events = [parse_event(data) for data in wire]
    parsing = time.perf_counter() - began
    result: dict[str, object] = {
        "what": f"{jobs} jobs' events (created with the shipped config, run to DONE) through "
        f"Projector.apply, {batch} events a transaction, {concurrent} jobs interleaved",
        "jobs": jobs,
        "events": len(events),
        "events_per_job": round(len(events) / jobs, 1),
        "config_snapshot_bytes": len(config.model_dump_json()),
        "parse_events_per_s": round(len(events) / parsing),
    }
    with tempfile.TemporaryDirectory(prefix="vfo-bench-") as tmp:
        for label, cached_jobs in (("", CACHED_JOBS), ("_cold_cache", 0)):
            sqlite = await project(f"sqlite:///{Path(tmp) / f'board{label}.db'}", events, batch, cached_jobs)
            result[f"sqlite{label}"] = sqlite
            if postgres:
                async with fresh_postgres(postgres) as url:
                    result[f"postgresql{label}"] = await project(url, events, batch, cached_jobs)
    result["machine"] = machine()
    for key, value in result.items():
        print(f"{key:>22}: {value}")
    if results is not None:
        print("saved", save("projector", result, results))
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=BATCH)
    parser.add_argument("--concurrent", type=int, default=50, help="jobs whose events interleave")
    parser.add_argument(
        "--database-url", default=DEFAULT_POSTGRES, help='PostgreSQL to create a database in; "" skips it'
    )
    parser.add_argument("--no-save", action="store_true", help="print the figures, write no results file")
    args = parser.parse_args()
    results = None if args.no_save else RESULTS
    asyncio.run(main(args.jobs, args.batch, args.concurrent, args.database_url or None, results))
