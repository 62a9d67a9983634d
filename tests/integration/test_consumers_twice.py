"""Every consumer handles the same message delivered twice with one effect."""

from __future__ import annotations

import json

import pytest
from nats.aio.msg import Msg
from sqlalchemy import func, select

from services.board.conductor import Conductor
from services.board.hub import Hub
from services.board.projector import Projector
from shared import names
from shared.db import tables as t
from shared.db.engine import make_engine, migrate
from shared.eventstore import EventStore
from tests.integration.harness import again, events_of, last_of_type, message_at, new_job, run_step


async def work_items(store: EventStore) -> int:
    info = await store.bus.js.stream_info(names.WORK_STREAM)
    return int(info.state.messages)


async def test_conductor_publishes_one_work_item_for_a_step_requested_twice(store: EventStore):
    # given a job that asked for its script
    job_id = await new_job(store)
    msg = await message_at(store, await last_of_type(store, job_id, "step_requested"))
    # when the conductor receives the request twice
    conductor = Conductor(store)
    await conductor.handle(msg)
    await conductor.handle(again(msg))
    # then one work item waits
    assert await work_items(store) == 1


async def test_conductor_advances_once_for_a_step_completed_twice(store: EventStore):
    # given a job whose script step completed (the conductor already advanced it once)
    job_id = await new_job(store)
    await run_step(store, job_id, "script")
    requested_before = [e for _, e in await events_of(store, job_id) if e.type == "step_requested"]
    # when the step_completed message comes again
    conductor = Conductor(store)
    await conductor.handle(await message_at(store, await last_of_type(store, job_id, "step_completed")))
    # then tts was requested once, not twice
    requested = [e for _, e in await events_of(store, job_id) if e.type == "step_requested"]
    assert requested == requested_before
    assert [e.step for e in requested] == ["script", "tts"]


@pytest.mark.parametrize("step", ["script", "tts", "render"])
async def test_a_worker_completes_a_work_item_delivered_twice_once(store: EventStore, step: str):
    # given a job that reached `step`
    job_id = await new_job(store, title=f"twice {step}")
    for earlier in ("script", "tts", "render")[: ("script", "tts", "render").index(step)]:
        await run_step(store, job_id, earlier)
    # when the worker gets the same work item twice
    await run_step(store, job_id, step, deliveries=2)
    # then the step completed once and its artifacts were recorded once
    events = [e for _, e in await events_of(store, job_id)]
    assert [e.type for e in events].count("step_completed") == ("script", "tts", "render").index(step) + 1
    names_written = [e.name for e in events if e.type == "artifact_written" and e.step == step]
    assert len(names_written) == len(set(names_written)) > 0
    if step == "render":
        assert [e.type for e in events].count("job_completed") == 1


async def test_the_projector_applies_an_event_delivered_twice_once(store: EventStore, database_url: str):
    # given a job's events and a migrated database
    job_id = await new_job(store)
    rows = await events_of(store, job_id)
    engine = make_engine(database_url)
    await migrate(engine)
    projector = Projector(store.bus, engine, Hub())
    # when every event is applied twice
    await projector.apply(rows)
    await projector.apply(rows)
    # then each is in the table once and the job is projected
    async with engine.connect() as conn:
        count = await conn.scalar(select(func.count()).select_from(t.job_events))
        state = await conn.scalar(select(t.jobs.c.state).where(t.jobs.c.id == job_id))
    await engine.dispose()
    assert count == len(rows)
    assert state == "SCRIPTING"


async def test_the_webhook_dispatcher_queues_one_delivery_for_an_event_delivered_twice(
    store: EventStore, database_url: str, tmp_path
):
    from cryptography.fernet import Fernet

    from services.webhooks import signing
    from services.webhooks.dispatcher import Dispatcher
    from services.webhooks.store import WebhookStore
    from shared.auth import Tokens, secret_key
    from shared.settings import Settings

    # given a subscriber to step.completed and a job whose script step completed
    engine = make_engine(database_url)
    await migrate(engine)
    hooks = WebhookStore(engine)
    secrets = signing.Secrets(Fernet(Fernet.generate_key()))
    sub = await hooks.add_subscription(
        "default",
        "https://example.com/hook",
        ["step.completed"],
        secrets.seal([{"secret": "x", "expires_at": None}]),
    )
    job_id = await new_job(store, title="hooked twice")
    await run_step(store, job_id, "script")
    msg = await message_at(store, await last_of_type(store, job_id, "step_completed"))
    settings = Settings(data_dir=tmp_path)
    tokens = Tokens(secret_key(settings), settings.session_ttl_s)
    dispatcher = Dispatcher(hooks, store, secrets, settings, tokens)
    # when the dispatcher receives that event twice
    await dispatcher.handle(msg)
    await dispatcher.handle(again(msg))
    # then one delivery waits
    deliveries = await hooks.deliveries(sub["id"])
    await engine.dispose()
    assert len(deliveries) == 1 and deliveries[0]["event_type"] == "step_completed"


async def test_the_conductor_fails_a_step_once_for_a_give_up_advisory_delivered_twice(store: EventStore):
    # given a job whose script work item is waiting, and JetStream's advisory that it was given up on
    job_id = await new_job(store)
    await Conductor(store).handle(
        await message_at(store, await last_of_type(store, job_id, "step_requested"))
    )
    seq = int((await store.bus.js.stream_info(names.WORK_STREAM)).state.last_seq)
    advisory = {"stream": names.WORK_STREAM, "consumer": "script", "stream_seq": seq, "deliveries": 5}
    msg = Msg(store.bus.nc, subject=names.GIVE_UPS_SUBJECTS, data=json.dumps(advisory).encode())
    # when the conductor receives the advisory twice
    conductor = Conductor(store)
    await conductor.give_up(msg)
    await conductor.give_up(msg)
    # then the step failed once, saying why, and the item is gone
    failed = [e for _, e in await events_of(store, job_id) if e.type == "step_failed"]
    assert len(failed) == 1
    assert "its worker died 5 times" in failed[0].error
    assert await work_items(store) == 0
