"""Every service in its own OS process, only NATS between them: the pipeline, one trace per job,
and a render worker killed with SIGKILL in the middle of its step."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from shared.natsserver import EmbeddedNats, free_port
from tests.conftest import BRIEF, wait_for_state
from tests.e2e.processes import ServiceProcess

LONG_BRIEF = " ".join(
    f"Fact number {n} is that octopuses can taste with their arms, change colour in a blink, and squeeze "
    f"through any gap larger than their beak."
    for n in range(1, 25)
)
# Long enough that a render is still going when a test cancels it or kills its worker (renders
# run at ~50x realtime: this narration takes several seconds to render)
VERY_LONG_BRIEF = " ".join([LONG_BRIEF] * 6)


@pytest.fixture
def environment(tmp_path: Path, nats_server: EmbeddedNats, database_url: str) -> dict[str, str]:
    return {
        "NATS_URL": nats_server.url,
        "DATABASE_URL": database_url,
        "VFO_DATA_DIR": str(tmp_path / "data"),
        "VFO_PORT": str(free_port()),
        "VFO_ACK_WAIT_S": "3",
        "VFO_LOG_LEVEL": "INFO",
    }


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[list[ServiceProcess]]:
    started: list[ServiceProcess] = []
    yield started
    for process in started:
        process.stop()


@pytest.fixture
async def client(environment: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{environment['VFO_PORT']}", timeout=30) as http:
        yield http


def start(spawn: list[ServiceProcess], service: str, env: dict[str, str], tmp_path: Path) -> ServiceProcess:
    own = {"VFO_TRACES": str(tmp_path / f"spans-{service}.jsonl")}
    if service in ("registry", "webhooks"):  # their own HTTP ports; in production a proxy routes to them
        own["VFO_PORT"] = str(free_port())
    process = ServiceProcess(service, env | own, tmp_path)
    spawn.append(process)
    return process


async def create_when_ready(client: httpx.AsyncClient, body: dict[str, object], data_dir: Path) -> str:
    """The processes start in any order: retry until the board and the registry's config are up
    (the registry's first start writes the admin key into the shared data dir)."""
    key_file = data_dir / "admin-key"
    for _ in range(300):
        if key_file.exists() and key_file.read_text().strip():
            client.headers["Authorization"] = f"Bearer {key_file.read_text().strip()}"
        try:
            response = await client.post("/api/v1/jobs", json=body)
        except httpx.TransportError:
            response = None
        if response is not None and response.status_code == 201:
            return str(response.json()["id"])
        await asyncio.sleep(0.1)
    raise AssertionError("the board never accepted a job")


def spans(tmp_path: Path) -> list[dict]:
    out = []
    for path in tmp_path.glob("spans-*.jsonl"):
        out += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return out


async def test_every_service_in_its_own_process_and_one_trace_per_job(
    environment: dict[str, str], spawn: list[ServiceProcess], client: httpx.AsyncClient, tmp_path: Path
):
    # given each service running as its own process
    for service in ("registry", "board", "script", "tts", "render", "webhooks"):
        start(spawn, service, environment, tmp_path)
    # when a job is created and run to the end
    job_id = await create_when_ready(
        client,
        {"title": "Separate processes", "brief": BRIEF, "start": "CONCLUIDO"},
        Path(environment["VFO_DATA_DIR"]),
    )
    job = await wait_for_state(client, job_id, ("DONE", "FAILED"))
    assert job["state"] == "DONE", job["last_error"]
    # and the processes stop cleanly on SIGTERM
    for process in spawn:
        assert process.stop() == 0, process.service
    # then the job's spans, exported by four processes, share one trace id
    mine = [s for s in spans(tmp_path) if s["attributes"].get("vfo.job_id") == job_id]
    services = {s["resource"]["attributes"]["service.name"] for s in mine}
    assert {"vfo-board", "vfo-script", "vfo-tts", "vfo-render"} <= services
    assert len({s["context"]["trace_id"] for s in mine}) == 1
    kinds = {(s["attributes"].get("vfo.service"), s["kind"]) for s in mine}
    for service in ("board", "script", "tts", "render"):
        assert (service, "SpanKind.PRODUCER") in kinds, service
    for service in ("board", "script", "tts", "render"):
        if service != "board":
            assert (service, "SpanKind.CONSUMER") in kinds, service
    assert any(s["attributes"].get("messaging.system") == "nats" for s in mine)


async def test_a_render_worker_killed_mid_step_is_replaced_and_the_job_completes_once(
    environment: dict[str, str], spawn: list[ServiceProcess], client: httpx.AsyncClient, tmp_path: Path
):
    # given the stack in processes, with one render worker
    for service in ("registry", "board", "script", "tts"):
        start(spawn, service, environment, tmp_path)
    doomed = start(spawn, "render", environment, tmp_path)
    job_id = await create_when_ready(
        client,
        {"title": "Killed mid render", "brief": VERY_LONG_BRIEF, "start": "CONCLUIDO"},
        Path(environment["VFO_DATA_DIR"]),
    )
    # when the render worker is killed with SIGKILL while it renders
    for _ in range(1200):
        job = (await client.get(f"/api/v1/jobs/{job_id}")).json()
        render = next((s for s in job.get("steps", []) if s["step"] == "render"), None)
        if render and render["status"] == "running" and render["percent"] >= 6:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError(f"render never got going: {job.get('state')} {job.get('last_error')}")
    doomed.kill()
    assert (await client.get(f"/api/v1/jobs/{job_id}")).json()["state"] == "RENDER_RUNNING"
    # and a new worker starts
    start(spawn, "render", environment, tmp_path)
    job = await wait_for_state(client, job_id, ("DONE", "FAILED"), timeout=240)
    # then the job completed once, with exactly one video, after the new worker took over the step
    assert job["state"] == "DONE", job["last_error"]
    types = [e["type"] for e in job["events"]]
    assert types.count("job_completed") == 1
    assert "lock_stolen" in types
    assert [a["name"] for a in job["artifacts"]].count("video.mp4") == 1
    videos = [
        e for e in job["events"] if e["type"] == "artifact_written" and e["payload"]["name"] == "video.mp4"
    ]
    assert len(videos) == 1
