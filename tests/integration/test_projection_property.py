"""Properties: for any sequences of commands, the projector's rows agree with folding the same
events, however the events are cut into batches and whatever the projector remembers between them."""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from services.board import queries
from services.board.eta import EtaInput, Fit, History, eta_seconds
from services.board.hub import Hub
from services.board.projector import Projector
from shared import commands as cmd
from shared.bus import Bus
from shared.db import tables as t
from shared.db.engine import make_engine, migrate
from shared.decide import decide
from shared.errors import TransitionRefused
from shared.events import Event
from shared.jobstate import JobState, evolve, fold
from shared.pipeline import PIPELINE
from tests.unit.test_machine import created
from tests.unit.test_machine_properties import STEPS, commands_for, creation_of

Rows = dict[str, list[dict[str, Any]]]
NOW = datetime(2030, 1, 1, tzinfo=UTC)
HISTORY = History({(spec.name, "narrated-story", "landscape-1080p30"): Fit(1.0, 0.01) for spec in PIPELINE})


@dataclass
class Plan:
    """How the events reach the projector: the batches, and which projector applies each."""

    cuts: list[int]  # where one batch ends and the next begins
    cached_jobs: int  # how many job states each projector keeps between batches
    two_projectors: bool  # batches alternate between two projectors (as after a restart)


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty board database, migrated once and copied for every projection (examples run fast,
    so a failure shrinks in seconds)."""
    path = tmp_path_factory.mktemp("projection") / "migrated.db"

    async def create() -> None:
        engine = make_engine(f"sqlite:///{path}")
        await migrate(engine)
        await engine.dispose()

    asyncio.run(create())
    return path


async def project(migrated: Path, events: list[Event], plan: Plan) -> tuple[Rows, dict[str, float | None]]:
    """The rows the projection holds after `events`, and each job's ETA at NOW from those rows."""
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(migrated, Path(tmp) / "p.db")
        engine = make_engine(f"sqlite:///{Path(tmp) / 'p.db'}")
        projectors = [Projector(cast(Bus, None), engine, Hub(), plan.cached_jobs) for _ in range(2)]
        rows = list(enumerate(events, start=1))  # apply() needs no bus
        for n, (start, end) in enumerate(zip([0, *plan.cuts], [*plan.cuts, len(rows)], strict=True)):
            await projectors[n % 2 if plan.two_projectors else 0].apply(rows[start:end])
        found: Rows = {}
        async with engine.connect() as conn:
            for table in t.PROJECTION_TABLES:
                key = [c.name for c in table.primary_key.columns]
                listed = (await conn.execute(select(table).order_by(*key))).mappings()
                found[table.name] = [dict(row) for row in listed]
        await engine.dispose()
    etas = {
        job["id"]: eta_seconds(
            queries.eta_input(job, [s for s in found["job_steps"] if s["job_id"] == job["id"]]), HISTORY, NOW
        )
        for job in found["jobs"]
    }
    return found, etas


def artifact_commands() -> st.SearchStrategy[cmd.Command]:
    return st.builds(
        cmd.RecordArtifact,
        step=st.sampled_from(STEPS),
        attempt=st.integers(min_value=0, max_value=3),
        name=st.sampled_from(["a.json", "b.wav"]),
        kind=st.just("data"),
        object_name=st.just("x"),
        mime_type=st.just("application/json"),
        size_bytes=st.integers(min_value=0, max_value=10),
        sha256=st.just("ab" * 32),
    )


def history_of(data: st.DataObject, job_id: str, auto_video: bool) -> tuple[JobState, list[Event]]:
    """A random but legal history of one job: its events and the state they fold to."""
    state = created(auto_video)
    events = list(decide(JobState(job_id=job_id), creation_of(state)))
    state = fold(job_id, events)
    for _ in range(20):
        command = data.draw(st.one_of(commands_for(state), artifact_commands()))
        if isinstance(command, cmd.CompleteStep) and command.step == "script":
            command = command.model_copy(update={"metrics": {"words": 40.0}})
        try:
            new = decide(state, command)
        except TransitionRefused:
            continue
        # a running step started a while before NOW, so the ETA has time spent to subtract
        new = [e.model_copy(update={"occurred_at": NOW - timedelta(seconds=3)}) for e in new]
        for event in new:
            state = evolve(state, event)
        events += new
    return state, events


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.booleans())
def test_the_projection_agrees_with_the_fold_however_it_is_batched(
    migrated: Path, data: st.DataObject, auto_video: bool
):
    # given the events of two jobs' random but legal histories, interleaved
    first, first_events = history_of(data, "job-1", auto_video)
    second, second_events = history_of(data, "job-2", not auto_video)
    picks = data.draw(st.permutations([0] * len(first_events) + [1] * len(second_events)))
    queues = [iter(first_events), iter(second_events)]
    events = [next(queues[pick]) for pick in picks]
    # when one projector applies them in one batch, and another in random batches, remembering
    # some job states or none, maybe two projectors taking turns
    plan = Plan(
        cuts=sorted(data.draw(st.sets(st.integers(1, len(events) - 1), max_size=6))),
        cached_jobs=data.draw(st.sampled_from([0, 1, 500])),
        two_projectors=data.draw(st.booleans()),
    )
    whole, etas = asyncio.run(project(migrated, events, Plan([], 500, False)))
    batched, _ = asyncio.run(project(migrated, events, plan))
    # then both hold the same rows, row for row
    assert batched == whole
    # and the rows say what the fold says
    for folded in (first, second):
        (job,) = (row for row in whole["jobs"] if row["id"] == folded.job_id)
        steps = {s["step"]: s for s in whole["job_steps"] if s["job_id"] == folded.job_id}
        assert folded.config is not None
        assert job["state"] == folded.state
        assert job["board_column"] == folded.column
        assert job["progress"] == folded.progress
        assert (job["retry_count"], job["failed_step"], job["last_error"]) == (
            folded.retry_count,
            folded.failed_step,
            folded.last_error,
        )
        assert (json.loads(job["options"]), json.loads(job["images"])) == (
            folded.options.model_dump(),
            list(folded.images),
        )
        assert json.loads(job["config"]) == folded.config.model_dump(mode="json")
        assert (job["recipe"], job["video_preset"]) == (folded.config.recipe.slug, folded.config.video.slug)
        assert {name: (s["status"], s["attempt"], json.loads(s["metrics"])) for name, s in steps.items()} == {
            name: (step.status, step.attempt, step.metrics) for name, step in folded.steps.items()
        }
        artifacts = {a["name"]: a["version"] for a in whole["artifacts"] if a["job_id"] == folded.job_id}
        assert artifacts == {name: ref.version for name, ref in folded.artifacts.items()}
        # and the ETA read from the rows is the one of the folded state
        assert etas[folded.job_id] == eta_seconds(EtaInput.of_state(folded), HISTORY, NOW)
