"""A NATS outage of a minute in the middle of a render: the render goes on, the job completes once
when NATS is back (no failure, one webhook), and the API answers 503 with Retry-After meanwhile."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.render.handler import RenderStep
from services.render.renderer import Renderer, RenderOutput
from shared import names
from shared.bus import PATIENCE, Bus, BusAway, impatient
from shared.natsserver import EmbeddedNats
from shared.settings import Settings
from shared.worker import StepInput, StepResult
from tests.conftest import BRIEF, Receiver, stack_client, stack_settings, wait_for_state
from vfo.stack import Stack

OUTAGE_S = 60.0
JOB = "9b6c1f1e-5a40-4bd6-9a53-1f0f0c1e2d3a"
SUBJECT = names.job_subject(JOB)


class Outage:
    """Events the test and the render step meet at: the render step has begun, NATS is down, the
    render's own work (FFmpeg: the pictures, the sound, the mux) is done."""

    def __init__(self) -> None:
        self.rendering = asyncio.Event()
        self.down = asyncio.Event()
        self.rendered = asyncio.Event()


@pytest.fixture
def outage(monkeypatch: pytest.MonkeyPatch) -> Outage:
    """The real render step, held at its start until NATS is down: it then renders during the
    outage, and has to keep its video and report it once NATS is back."""
    meeting = Outage()
    step: Callable[[RenderStep, StepInput], Awaitable[StepResult]] = RenderStep.__call__
    frames: Callable[..., Awaitable[RenderOutput]] = Renderer.render

    async def render_during_the_outage(self: RenderStep, given: StepInput) -> StepResult:
        meeting.rendering.set()
        await meeting.down.wait()
        return await step(self, given)

    async def rendered(self: Renderer, *args: Any, **kwargs: Any) -> RenderOutput:
        out = await frames(self, *args, **kwargs)
        meeting.rendered.set()
        return out

    monkeypatch.setattr(RenderStep, "__call__", render_during_the_outage)
    monkeypatch.setattr(Renderer, "render", rendered)
    return meeting


@pytest.fixture
def settings(tmp_path: Path, nats_server: EmbeddedNats, database_url: str) -> Settings:
    return stack_settings(
        tmp_path, nats_server, database_url, webhook_allow_hosts="127.0.0.1", webhook_backoff_s="0.3,0.6"
    )


@pytest.fixture
async def client(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with stack_client(stack, timeout=8) as http:  # an API waiting for NATS would fail the test
        yield http


def logged(job: dict, step: str) -> list[str]:
    return [
        e["payload"].get("message", "")
        for e in job["events"]
        if e["type"] == "step_progress" and e["step"] == step
    ]


async def test_a_minute_without_nats_mid_render_completes_the_job_once(
    client: httpx.AsyncClient, nats_server: EmbeddedNats, receiver: Receiver, outage: Outage
):
    # given a webhook subscriber and a job whose render has begun
    hook = await client.post("/api/v1/webhooks", json={"url": receiver.url})
    assert hook.status_code == 201, hook.text
    created = await client.post(
        "/api/v1/jobs", json={"title": "Through the outage", "brief": BRIEF, "start": "CONCLUIDO"}
    )
    assert created.status_code == 201, created.text
    job_id = created.json()["id"]
    await asyncio.wait_for(outage.rendering.wait(), timeout=90)

    # when NATS goes away for a minute
    nats_server.stop()
    went_down = time.monotonic()
    outage.down.set()
    try:
        # then the API says so at once, with when to try again, and stores nothing
        refused = await client.post("/api/v1/jobs", json={"title": "During the outage", "brief": BRIEF})
        assert refused.status_code == 503, refused.text
        assert refused.json()["code"] == "unavailable"
        assert int(refused.headers["Retry-After"]) > 0
        # and what the board has already projected can still be read
        listed = await client.get("/api/v1/jobs")
        assert listed.status_code == 200, listed.text
        assert job_id in [j["id"] for j in listed.json()["items"]]
        # and the render goes on without NATS
        await asyncio.wait_for(outage.rendered.wait(), timeout=OUTAGE_S)
        await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - went_down)))  # the rest of the minute
    finally:
        # NATS is back (same port, same store)
        nats_server.start()

    # then the job completes, once, and says NATS was away while it rendered
    done = await wait_for_state(client, job_id, ("DONE", "FAILED"), timeout=120)
    assert done["state"] == "DONE", done.get("last_error")
    types = [e["type"] for e in done["events"]]
    assert types.count("job_completed") == 1
    assert "job_failed" not in types and "step_failed" not in types
    assert any("was away for" in m for m in logged(done, "render")), logged(done, "render")
    video = [a for a in done["artifacts"] if a["name"] == "video.mp4"]
    assert video and (await client.get(video[0]["url"])).status_code == 200

    # and the subscriber hears of it once, and of no failure
    for _ in range(300):
        if any(b'"job.completed"' in body for _, _, body in receiver.seen):
            break
        await asyncio.sleep(0.1)
    kinds = [body for _, _, body in receiver.seen]
    assert sum(b'"job.completed"' in body for body in kinds) == 1, kinds
    assert not any(b'"job.failed"' in body for body in kinds)

    # and the factory works as before: a new job goes through every service
    again = await client.post(
        "/api/v1/jobs", json={"title": "After the outage", "brief": BRIEF, "start": "CONCLUIDO"}
    )
    assert again.status_code == 201, again.text
    outage.down.set()
    after = await wait_for_state(client, again.json()["id"], ("DONE", "FAILED"), timeout=120)
    assert after["state"] == "DONE", after.get("last_error")


async def test_a_worker_waits_for_nats_as_long_as_its_patience_then_says_so(
    bus: Bus, nats_server: EmbeddedNats
):
    # given NATS gone
    nats_server.stop()
    await asyncio.wait_for(_until_away(bus), timeout=10)
    # when a read waits one second for it, then it is refused naming what was being done
    token = PATIENCE.set(1.0)
    try:
        with pytest.raises(BusAway, match=rf"reading {re.escape(SUBJECT)} \(waited 1 s\)"):
            await bus.read_subject(SUBJECT, 0)
    finally:
        PATIENCE.reset(token)
    # and a request that cannot wait is refused at once
    with impatient(), pytest.raises(BusAway, match="storing an event"):
        await bus.append(SUBJECT, b"{}", "m-1", 0, JOB)
    # when NATS is back, the same read is answered (it waits for the server, however long)
    back = asyncio.create_task(bus.read_subject(SUBJECT, 0))
    nats_server.start()
    assert await asyncio.wait_for(back, timeout=60) == []
    assert bus.away_for() > 0


async def _until_away(bus: Bus) -> None:
    while bus.up.is_set():
        await bus._next_change(1.0)
