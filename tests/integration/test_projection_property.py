"""Property: for any sequence of commands, the projector's rows agree with folding the same events."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import cast

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from services.board.hub import Hub
from services.board.projector import Projector
from shared.bus import Bus
from shared.db import tables as t
from shared.db.engine import make_engine, migrate
from shared.decide import decide
from shared.errors import TransitionRefused
from shared.events import Event
from shared.jobstate import JobState, evolve, fold
from tests.unit.test_machine import created
from tests.unit.test_machine_properties import commands_for, creation_of


async def project(events: list[Event]) -> tuple[dict, list[dict]]:
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'p.db'}")
        await migrate(engine)
        projector = Projector(cast(Bus, None), engine, Hub())  # apply() needs no bus
        await projector.apply([(seq, event) for seq, event in enumerate(events, start=1)])
        async with engine.connect() as conn:
            job = dict((await conn.execute(select(t.jobs))).mappings().one())
            steps = [dict(r) for r in (await conn.execute(select(t.job_steps))).mappings()]
        await engine.dispose()
    return job, steps


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.booleans())
def test_the_projection_agrees_with_the_fold(data: st.DataObject, auto_video: bool):
    # given the events of a random but legal history
    state = created(auto_video)
    events = list(decide(JobState(job_id=state.job_id), creation_of(state)))
    for _ in range(20):
        try:
            new = decide(state, data.draw(commands_for(state)))
        except TransitionRefused:
            continue
        for event in new:
            state = evolve(state, event)
        events += new
    # when the projector applies them
    job, steps = asyncio.run(project(events))
    # then its rows say what the fold says
    folded = fold(state.job_id, events)
    assert job["state"] == folded.state
    assert job["board_column"] == folded.column
    assert job["progress"] == folded.progress
    assert (job["retry_count"], job["failed_step"], job["last_error"]) == (
        folded.retry_count,
        folded.failed_step,
        folded.last_error,
    )
    assert {s["step"]: (s["status"], s["attempt"]) for s in steps} == {
        name: (step.status, step.attempt) for name, step in folded.steps.items()
    }
