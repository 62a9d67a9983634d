"""`vfo backup` and `vfo restore`: a factory backed up while it runs, its data directory wiped, and
restored into a new stack is the same factory; a damaged backup is refused before anything is touched."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from benchmarks.common import fresh_postgres
from shared import names
from shared.bus import Bus
from shared.natsserver import free_port
from shared.settings import Settings
from tests.conftest import BRIEF, Receiver, bearer, wait_for_state
from vfo.backup import SUMS, backups_in, make_backup, verify
from vfo.restore import restore_backup
from vfo.stack import Stack, data_dir_nats

CLEAN_ENV = {
    k: v for k, v in os.environ.items() if k not in ("NATS_URL", "DATABASE_URL") and not k.startswith("VFO_")
}
PROMPT = "/api/v1/registry/prompts/story-script-en"


@pytest.fixture
async def databases() -> AsyncIterator[tuple[str | None, str | None]]:
    """The database of the first stack and of the one restored after the wipe: PostgreSQL when
    TEST_DATABASE_URL is set (two new databases), else SQLite in the data directory (None)."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        yield None, None
        return
    async with fresh_postgres(base, "vfo_backup") as first, fresh_postgres(base, "vfo_restored") as second:
        yield first, second


def embedded(data_dir: Path, database_url: str | None, **extra: Any) -> Settings:
    """A stack as `vfo up` runs it: NATS embedded in the data directory."""
    return Settings(
        NATS_URL=None,
        DATABASE_URL=database_url,
        data_dir=data_dir,
        port=free_port(),
        ack_wait_s=5,
        webhook_allow_hosts="127.0.0.1",
        **extra,
    )


def vfo(*args: str, database_url: str | None) -> subprocess.CompletedProcess[str]:
    env = CLEAN_ENV | ({"DATABASE_URL": database_url} if database_url else {})
    return subprocess.run(
        [sys.executable, "-m", "vfo", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def client_of(stack: Stack) -> httpx.AsyncClient:
    key = (stack.settings.data_dir / "admin-key").read_text().strip()
    return httpx.AsyncClient(base_url=stack.board_url, headers=bearer(key), timeout=30)


async def what_it_holds(http: httpx.AsyncClient) -> dict[str, Any]:
    """Everything a user can see of the factory, through the API."""
    jobs = (await http.get("/api/v1/jobs", params={"limit": 500})).json()["items"]
    subscriptions = (await http.get("/api/v1/webhooks")).json()
    return {
        "board": (await http.get("/api/v1/board")).json(),
        "jobs": {job["id"]: (await http.get(f"/api/v1/jobs/{job['id']}")).json() for job in jobs},
        "registry": (await http.get("/api/v1/registry/export")).text,
        "versions": (await http.get(f"{PROMPT}/versions")).json(),
        "keys": (await http.get("/api/v1/keys")).json(),
        "webhooks": subscriptions,
        "deliveries": {
            sub["id"]: (await http.get(f"/api/v1/webhooks/{sub['id']}/deliveries")).json()
            for sub in subscriptions
        },
        "templates": (await http.get("/api/v1/templates")).json(),
        "auto_video": (await http.get("/api/v1/settings/auto-video")).json(),
    }


async def deliveries_until(http: httpx.AsyncClient, subscription: str, count: int) -> list[dict[str, Any]]:
    deadline = asyncio.get_running_loop().time() + 60
    while True:
        found = (await http.get(f"/api/v1/webhooks/{subscription}/deliveries")).json()
        if len(found) >= count and all(d["status"] == "delivered" for d in found):
            return found
        assert asyncio.get_running_loop().time() < deadline, f"deliveries: {found}"
        await asyncio.sleep(0.1)


async def test_a_factory_backed_up_while_it_runs_comes_back_whole_after_a_wipe(
    tmp_path: Path, databases: tuple[str | None, str | None], receiver: Receiver
):
    first_db, second_db = databases
    data, out = tmp_path / "var", tmp_path / "backups"
    # given a factory with finished jobs and a paused one, an edited prompt (two versions), API keys
    # (one revoked), a webhook subscription that heard of every finished job, a template and the
    # Auto video switch off
    async with Stack(embedded(data, first_db)) as stack, client_of(stack) as http:
        sub = (await http.post("/api/v1/webhooks", json={"url": receiver.url})).json()
        done = [
            (
                await http.post(
                    "/api/v1/jobs", json={"title": f"Done {n}", "brief": BRIEF, "start": "CONCLUIDO"}
                )
            ).json()["id"]
            for n in range(3)
        ]
        paused = (
            await http.post("/api/v1/jobs", json={"title": "Paused", "brief": BRIEF, "auto_video": False})
        ).json()["id"]
        await http.post(f"/api/v1/jobs/{paused}/move", json={"column": "ROTEIRO"})
        prompt = (await http.get(PROMPT)).json()
        edited = prompt["data"] | {"system_prompt": "A new voice for the channel."}
        assert (await http.put(PROMPT, json=edited)).json()["version"] == 2
        operator = (await http.post("/api/v1/keys", json={"name": "ci", "role": "operator"})).json()
        revoked = (await http.post("/api/v1/keys", json={"name": "old", "role": "viewer"})).json()
        assert (await http.delete(f"/api/v1/keys/{revoked['id']}")).status_code == 200
        template = {"name": "Shorts", "language": "en-US", "shorts": 1}
        assert (await http.put("/api/v1/templates/shorts", json=template)).status_code == 200
        for job in done:
            await wait_for_state(http, job, ("DONE",))
        await wait_for_state(http, paused, ("SCRIPT_DONE",))
        await deliveries_until(http, sub["id"], 3)
        assert (await http.put("/api/v1/settings/auto-video", json={"enabled": False})).status_code == 200
        before = await what_it_holds(http)
        # when it is backed up while it runs
        made = await asyncio.to_thread(
            vfo, "backup", "--out", str(out), "--data-dir", str(data), database_url=first_db
        )
    assert made.returncode == 0, made.stderr
    assert "Backed up to" in made.stdout and "4 jobs" in made.stdout and "3 API keys" in made.stdout
    (backup,) = backups_in(out)
    # and the data directory (and database) is lost
    shutil.rmtree(data)
    # and the backup is restored into a new one
    restored = await asyncio.to_thread(
        vfo, "restore", str(backup), "--data-dir", str(data), database_url=second_db
    )
    assert restored.returncode == 0, restored.stderr
    assert f"Restored {backup.name}: 4 jobs" in restored.stdout
    # then a new stack there holds the same factory
    async with Stack(embedded(data, second_db)) as stack, client_of(stack) as http:
        after = await what_it_holds(http)
        assert after == before
        assert len(after["versions"]["items"]) == 2
        # and every artifact downloads, matching its checksum
        artifacts = [a for job in after["jobs"].values() for a in job["artifacts"]]
        assert len(artifacts) >= 3 * 6
        for artifact in artifacts:
            body = (await http.get(artifact["url"])).content
            assert hashlib.sha256(body).hexdigest() == artifact["sha256"], artifact["name"]
        # and the API keys still work (the revoked one still does not)
        async with httpx.AsyncClient(base_url=stack.board_url, timeout=30) as anyone:
            assert (await anyone.get("/api/v1/jobs", headers=bearer(operator["key"]))).status_code == 200
            assert (await anyone.get("/api/v1/jobs", headers=bearer(revoked["key"]))).status_code == 401
        # and the factory goes on: a new job's webhook is signed with the subscription's secret,
        # and the jobs done before the backup were not announced twice
        assert (await http.put("/api/v1/settings/auto-video", json={"enabled": True})).status_code == 200
        new = (
            await http.post("/api/v1/jobs", json={"title": "After", "brief": BRIEF, "start": "CONCLUIDO"})
        ).json()
        await wait_for_state(http, new["id"], ("DONE",))
        await deliveries_until(http, sub["id"], 4)
        assert len(receiver.seen) == 4
        body = Webhook(sub["secret"]).verify(receiver.seen[-1][2], receiver.seen[-1][1])
        assert body["data"]["job_id"] == new["id"]


async def test_a_backup_with_one_flipped_byte_is_refused_naming_the_file(
    tmp_path: Path, databases: tuple[str | None, str | None]
):
    # given a backup
    first_db, second_db = databases
    async with Stack(embedded(tmp_path / "var", first_db)) as stack, client_of(stack) as http:
        await http.post("/api/v1/jobs", json={"title": "One", "brief": BRIEF})
        made = await make_backup(stack.settings, tmp_path / "backups")
    target = tmp_path / "elsewhere"
    for name in ("streams/JOB_EVENTS.tar.s2", "tables/registry_versions.jsonl", "manifest.json"):
        # when one byte of one of its files is flipped
        path = made.path / name
        original = path.read_bytes()
        damaged = bytearray(original)
        damaged[len(damaged) // 2] ^= 0x01
        path.write_bytes(bytes(damaged))
        # then restoring it is refused, naming that file, in one line
        result = await asyncio.to_thread(
            vfo, "restore", str(made.path), "--data-dir", str(target), database_url=second_db
        )
        assert result.returncode == 2
        assert f"{name} does not match its checksum: the backup is damaged" in result.stderr
        assert "Traceback" not in result.stderr + result.stdout
        # and nothing was touched
        assert not target.exists()
        path.write_bytes(original)
    assert verify(made.path)["summary"]["jobs"] == 1  # (the backup itself was good)


async def events_in(settings: Settings) -> int:
    async with data_dir_nats(settings) as offline:
        bus = await Bus.connect(offline.nats_url or "", "test")
        try:
            return (await bus.js.stream_info(names.JOB_EVENTS_STREAM)).state.messages
        finally:
            await bus.close()


async def test_restore_asks_before_replacing_data_that_is_there(
    tmp_path: Path, databases: tuple[str | None, str | None]
):
    # given a backup of a factory with one job, and that factory with a second job made since
    first_db, _ = databases
    settings = embedded(tmp_path / "var", first_db)
    async with Stack(settings) as stack, client_of(stack) as http:
        await http.post("/api/v1/jobs", json={"title": "One", "brief": BRIEF})
        made = await make_backup(stack.settings, tmp_path / "backups")
        await http.post("/api/v1/jobs", json={"title": "Two", "brief": BRIEF})
    events = await events_in(settings)
    # when it is restored there without --yes (and no one to ask)
    asked = await asyncio.to_thread(
        vfo, "restore", str(made.path), "--data-dir", str(settings.data_dir), database_url=first_db
    )
    # then it names what it would replace and how to go ahead, and changes nothing
    assert asked.returncode == 2
    assert "already holds data" in asked.stderr and "messages in JOB_EVENTS" in asked.stderr
    assert "pass --yes to go ahead" in asked.stderr
    assert await events_in(settings) == events
    # when --yes says so
    replaced = await asyncio.to_thread(
        vfo, "restore", str(made.path), "--yes", "--data-dir", str(settings.data_dir), database_url=first_db
    )
    # then the backup replaces it
    assert replaced.returncode == 0, replaced.stderr
    assert "1 jobs" in replaced.stdout
    assert await events_in(settings) < events


async def test_a_job_waiting_for_a_worker_at_backup_time_goes_on_after_a_restore(
    tmp_path: Path, databases: tuple[str | None, str | None]
):
    first_db, second_db = databases
    # given a job waiting for its narration when the backup is made (no narration worker runs)
    no_tts = ("registry", "board", "script", "render", "webhooks")
    async with Stack(embedded(tmp_path / "var", first_db), no_tts) as stack, client_of(stack) as http:
        job = (
            await http.post("/api/v1/jobs", json={"title": "Busy", "brief": BRIEF, "start": "CONCLUIDO"})
        ).json()
        await wait_for_state(http, job["id"], ("TTS_RUNNING",))
        made = await make_backup(stack.settings, tmp_path / "backups")
    # when it is restored into a new data directory
    settings = embedded(tmp_path / "new", second_db)
    async with data_dir_nats(settings) as offline:
        restored = await restore_backup(offline, made.path, verify(made.path), lambda _: False)
    assert restored is not None
    assert restored.notes == ["1 jobs were in the middle of a step when the backup was made: it starts again"]
    # then, once a full stack runs, the job goes on to the end, its log saying why the step ran again
    async with Stack(settings) as stack, client_of(stack) as http:
        finished = await wait_for_state(http, job["id"], ("DONE",))
    kinds = [event["type"] for event in finished["events"]]
    assert kinds.count("job_cancelled") == 1 and kinds.count("job_resumed") == 1
    cancelled = next(e for e in finished["events"] if e["type"] == "job_cancelled")
    assert made.path.name in str(cancelled["payload"])


async def test_up_backs_up_on_schedule_and_keeps_the_newest(
    tmp_path: Path, databases: tuple[str | None, str | None]
):
    # given a stack that makes a backup every second and keeps two
    first_db, _ = databases
    out = tmp_path / "backups"
    settings = embedded(tmp_path / "var", first_db, backup_every="1s", backup_keep=2, backup_dir=out)
    async with Stack(settings):
        # when a few have been made
        seen: set[str] = set()
        deadline = asyncio.get_running_loop().time() + 60
        while len(seen) < 4:
            current = backups_in(out)
            # then there are never more than two, the newest, each complete
            assert len(current) <= 2
            seen |= {p.name for p in current}
            assert asyncio.get_running_loop().time() < deadline, f"backups made: {sorted(seen)}"
            await asyncio.sleep(0.1)
    kept = backups_in(out)
    assert len(kept) == 2 and all((p / SUMS).is_file() for p in kept)
    assert {p.name for p in kept} == set(sorted(seen)[-2:])
