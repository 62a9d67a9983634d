"""Cancel stops a running render promptly (FFmpeg is killed), and Resume finishes the job."""

from __future__ import annotations

import asyncio

import httpx
import psutil

from tests.conftest import wait_for_state
from tests.e2e.test_processes import VERY_LONG_BRIEF


def ffmpeg_children() -> list[psutil.Process]:
    found = []
    for process in psutil.Process().children(recursive=True):
        try:
            if "ffmpeg" in process.name():
                found.append(process)
        except psutil.NoSuchProcess:  # an FFmpeg that ended while we looked (each lives ~0.1 s)
            continue
    return found


async def test_cancel_kills_ffmpeg_and_resume_finishes(client: httpx.AsyncClient):
    # given a job rendering (its FFmpeg processes are children of this test process)
    job = (
        await client.post(
            "/api/v1/jobs", json={"title": "Cancel me", "brief": VERY_LONG_BRIEF, "start": "CONCLUIDO"}
        )
    ).json()
    for _ in range(1200):
        detail = (await client.get(f"/api/v1/jobs/{job['id']}")).json()
        render = next((s for s in detail["steps"] if s["step"] == "render"), None)
        if render and render["status"] == "running" and render["percent"] >= 8 and ffmpeg_children():
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the render never got going")
    # when the job is cancelled
    cancelled = await client.post(f"/api/v1/jobs/{job['id']}/cancel")
    # then FFmpeg goes away (the worker polls for cancellation every second) and the job shows
    # CANCELLED in the render column
    for _ in range(200):
        if not ffmpeg_children():
            break
        await asyncio.sleep(0.05)
    assert not ffmpeg_children()
    assert cancelled.json()["state"] == "CANCELLED" and cancelled.json()["column"] == "VIDEO"
    # and resuming renders again, to the end
    resumed = await client.post(f"/api/v1/jobs/{job['id']}/resume")
    assert resumed.json()["state"] == "RENDER_RUNNING"
    done = await wait_for_state(client, job["id"], ("DONE", "FAILED"), timeout=240)
    assert done["state"] == "DONE" and done["retry_count"] == 1
    types = [e["type"] for e in done["events"]]
    assert types.count("job_cancelled") == 1 and types.count("job_resumed") == 1
    assert types.count("step_completed") == 3  # script and tts were not run again
