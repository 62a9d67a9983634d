"""Optimistic concurrency on one job's subject: one writer wins, the others reload and retry."""

from __future__ import annotations

import asyncio

import pytest

from shared import commands as cmd
from shared import events as ev
from shared.errors import ConcurrencyConflict
from shared.eventstore import EventStore
from tests.integration.harness import new_job


async def test_twenty_appends_with_the_same_expected_sequence_one_wins(store: EventStore):
    # given a job at some sequence
    job_id = await new_job(store)
    expected = (await store.load(job_id)).last_seq

    # when 20 writers append at once, each expecting that sequence
    async def write(n: int) -> int:
        event = ev.StepProgress(job_id=job_id, step="script", attempt=1, percent=n, message=f"writer {n}")
        return await store.append(job_id, [event], expected)

    results = await asyncio.gather(*(write(n) for n in range(20)), return_exceptions=True)

    # then exactly one wins and the others get a conflict that says what to do
    wins = [r for r in results if isinstance(r, int)]
    conflicts = [r for r in results if isinstance(r, ConcurrencyConflict)]
    assert len(wins) == 1 and len(conflicts) == 19
    assert "reload its events and decide again" in str(conflicts[0])


async def test_conflicting_commands_retry_after_reloading_and_all_land(store: EventStore):
    # given a running script step
    job_id = await new_job(store)
    await store.execute(job_id, cmd.StartStep(step="script", attempt=1, worker="w"))
    before = (await store.load(job_id)).last_seq

    # when 20 progress reports race (each through the load-decide-append loop, each with its own cache)
    async def report(n: int) -> None:
        await EventStore(store.bus).execute(job_id, cmd.ReportProgress(step="script", attempt=1, percent=n))

    await asyncio.gather(*(report(n) for n in range(20)))

    # then all 20 are in the stream, in one total order
    rows = await store.read(job_id, before)
    assert sorted(e.percent for _, e, _ in rows) == list(range(20))


async def test_a_new_subject_expects_sequence_zero(store: EventStore):
    event = ev.StepProgress(job_id="fresh", step="script", attempt=1, percent=1)
    await store.append("fresh", [event], 0)
    with pytest.raises(ConcurrencyConflict):
        await store.append("fresh", [ev.StepProgress(job_id="fresh", step="script", attempt=1, percent=2)], 0)
