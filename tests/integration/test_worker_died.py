"""A work item that kills its worker every time: after the last allowed delivery, JetStream's
advisory fails the step, so the job ends FAILED with the reason instead of running for ever."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY

from shared import names
from shared.bus import Bus
from shared.consumer import Durable
from shared.natsserver import EmbeddedNats
from shared.pipeline import Step
from shared.settings import Settings
from tests.conftest import BRIEF, admin_key, bearer, stack_settings, wait_for_state
from vfo.stack import Stack

MAX_DELIVER = 2
ACK_WAIT_S = 1.0


@pytest.fixture
def settings(tmp_path: Path, nats_server: EmbeddedNats, database_url: str) -> Settings:
    base = stack_settings(tmp_path, nats_server, database_url, max_deliver=MAX_DELIVER)
    return base.model_copy(update={"ack_wait_s": ACK_WAIT_S})


@pytest.fixture
async def stack(settings: Settings) -> AsyncIterator[Stack]:
    """Every service but the render worker: the test plays a render worker that always dies."""
    services = ("registry", "board", "script", "tts", "webhooks")
    async with Stack(settings, services) as running:
        yield running


async def dying_render_worker(bus: Bus, stop: asyncio.Event) -> int:
    """Take render work items and never report or ack, as a worker killed mid-step does (its
    connection gone, the item comes back after ack_wait). Returns how many deliveries it took."""
    durable = Durable(
        names.WORK_STREAM,
        names.work_durable(Step.RENDER, names.DEFAULT_POOL),
        names.work_subject(Step.RENDER, names.DEFAULT_POOL),
        ack_wait_s=ACK_WAIT_S,
        max_deliver=MAX_DELIVER,
    )
    sub = await durable.bind(bus)
    taken = 0
    while not stop.is_set():
        try:
            taken += len(await sub.fetch(1, timeout=0.5))
        except TimeoutError:
            continue
    return taken


async def test_a_job_whose_worker_dies_every_time_ends_failed_saying_so(stack: Stack, bus: Bus):
    # given a render worker that dies on every delivery
    stop = asyncio.Event()
    worker = asyncio.create_task(dying_render_worker(bus, stop))
    async with httpx.AsyncClient(
        base_url=stack.board_url, headers=bearer(admin_key(stack)), timeout=30
    ) as client:
        # when a job is sent to the end
        body = {"title": "Doomed render", "brief": BRIEF, "start": "CONCLUIDO"}
        job = (await client.post("/api/v1/jobs", json=body)).json()
        # then, after the last allowed delivery, it ends FAILED naming the step and the deaths
        failed = await wait_for_state(client, job["id"], ("FAILED",), timeout=60)
        stop.set()
        assert await worker == MAX_DELIVER
        assert failed["failed_step"] == "render"
        assert f"its worker died {MAX_DELIVER} times" in str(failed["last_error"])
        # and the item is gone from the work queue (nothing waits to be redelivered)
        info = await bus.js.stream_info(names.WORK_STREAM)
        assert info.state.messages == 0
        # and the job can be retried from there, like any failure
        retried = await client.post(f"/api/v1/jobs/{job['id']}/retry")
        assert retried.status_code == 200, retried.text


@pytest.mark.parametrize(
    "item",
    [
        b'{"job_id": "../../etc", "step": "render", "attempt": 1, "input_hash": "ab"}',
        b'{"job_id": "5f0c6a52-5b1e-4c41-9d0e-1c6f3c1f9a11", "step": "render", "attempt": 1,'
        b' "input_hash": "ab", "instruction": "' + b"x" * 100_000 + b'"}',
        b'{"job_id": "5f0c6a52-5b1e-4c41-9d0e-1c6f3c1f9a11", "step": "render", "attempt": -1,'
        b' "input_hash": "ab"}',
        b"\x00\xff not json",
    ],
    ids=["path-in-job-id", "oversized-instruction", "negative-attempt", "not-json"],
)
async def test_a_malformed_work_item_is_terminated_and_the_worker_goes_on(
    tmp_path: Path, nats_server: EmbeddedNats, database_url: str, bus: Bus, item: bytes
):
    # given the whole stack, and a malformed item at the head of the render queue
    settings = stack_settings(tmp_path, nats_server, database_url)
    await bus.ensure()
    subject = names.work_subject(Step.RENDER, names.DEFAULT_POOL)
    await bus.js.publish(subject, item, stream=names.WORK_STREAM)
    terminated = {"consumer": "render-cpu", "outcome": "terminated"}
    before = REGISTRY.get_sample_value("vfo_consumer_messages_total", terminated) or 0.0
    async with Stack(settings) as running:
        headers = bearer(admin_key(running))
        async with httpx.AsyncClient(base_url=running.board_url, headers=headers, timeout=30) as client:
            # when a real job comes after it
            body = {"title": "After the bad item", "brief": BRIEF, "start": "CONCLUIDO"}
            job = (await client.post("/api/v1/jobs", json=body)).json()
            # then the job is rendered (the worker survived the item), and the item was terminated
            await wait_for_state(client, job["id"], ("DONE",))
            assert REGISTRY.get_sample_value("vfo_consumer_messages_total", terminated) == before + 1
            info = await bus.js.stream_info(names.WORK_STREAM)
            assert info.state.messages == 0
