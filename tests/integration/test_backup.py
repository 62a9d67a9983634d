"""`vfo backup` and `vfo restore`: a factory backed up while it runs, its data directory wiped, and
restored into a new stack is the same factory; a damaged backup is refused before anything is touched."""

from __future__ import annotations

import asyncio
import hashlib
import json
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
from shared.errors import InfrastructureError
from shared.natsserver import free_port
from shared.settings import Settings
from tests.conftest import BRIEF, Receiver, bearer, wait_for_state
from vfo import restore, restoresteps, tablecopy
from vfo.backup import STREAMS, SUMS, backups_in, make_backup, object_stream, stream_files, verify
from vfo.restore import RestoreFailed, restore_backup
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


def rechecksummed(backup: Path, name: str, data: bytes) -> None:
    """Replace `name` in `backup` with `data` and give it a matching checksum: damage that the
    checksums cannot see (made on purpose, or by a bug)."""
    (backup / name).write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    lines = (backup / SUMS).read_text().splitlines()
    (backup / SUMS).write_text(
        "".join(f"{digest}  {name}\n" if line.endswith(f"  {name}") else f"{line}\n" for line in lines)
    )


async def raw_contents(settings: Settings) -> dict[str, Any]:
    """What the data directory holds, below the API: every stream's state, every event as stored
    (sequence, subject, bytes), every artifact's name and digest, the secret files."""
    async with data_dir_nats(settings) as offline:
        bus = await Bus.connect(offline.nats_url or "", "test")
        try:
            streams = {}
            for stream in STREAMS:
                state = (await bus.js.stream_info(stream)).state
                # (an empty stream's first sequence reads 0 until it is restored, then 1: the same)
                first = state.first_seq if state.messages else None
                streams[stream] = (state.messages, first, state.last_seq)
            _, first_event, last_event = streams[names.JOB_EVENTS_STREAM]
            events = []
            for seq in range(first_event or 1, (last_event or 0) + 1):
                msg = await bus.js.get_msg(names.JOB_EVENTS_STREAM, seq)
                events.append((msg.seq, msg.subject, msg.data))
            artifacts = sorted((o.name, o.digest) for o in await (await bus.artifacts()).list())
        finally:
            await bus.close()
    secrets = {name: (settings.data_dir / name).read_text() for name in ("secret.key", "admin-key")}
    return {"streams": streams, "events": events, "artifacts": artifacts, "secrets": secrets}


async def factory_with_a_backup_of_its_past(
    tmp_path: Path, database_url: str | None
) -> tuple[Settings, Path]:
    """A factory with two finished jobs and an edited prompt, and a backup made when it had one."""
    settings = embedded(tmp_path / "var", database_url)
    async with Stack(settings) as stack, client_of(stack) as http:
        one = (
            await http.post("/api/v1/jobs", json={"title": "One", "brief": BRIEF, "start": "CONCLUIDO"})
        ).json()
        await wait_for_state(http, one["id"], ("DONE",))
        made = await make_backup(stack.settings, tmp_path / "backups")
        two = (
            await http.post("/api/v1/jobs", json={"title": "Two", "brief": BRIEF, "start": "CONCLUIDO"})
        ).json()
        prompt = (await http.get(PROMPT)).json()
        await http.put(PROMPT, json=prompt["data"] | {"system_prompt": "Since the backup."})
        await wait_for_state(http, two["id"], ("DONE",))
    return settings, made.path


async def what_a_new_stack_shows(settings: Settings) -> dict[str, Any]:
    async with Stack(settings) as stack, client_of(stack) as http:
        seen = await what_it_holds(http)
        artifacts = [a for job in seen["jobs"].values() for a in job["artifacts"]]
        for artifact in artifacts:
            body = (await http.get(artifact["url"])).content
            assert hashlib.sha256(body).hexdigest() == artifact["sha256"], artifact["name"]
        return seen


async def test_a_restore_whose_artifacts_fail_after_the_streams_were_restored_puts_everything_back(
    tmp_path: Path, databases: tuple[str | None, str | None]
):
    # given a factory, and a backup of its past whose artifacts snapshot is cut short, the cut one
    # carrying a matching checksum (it passes every check; only the server, restoring, finds out)
    first_db, _ = databases
    settings, backup = await factory_with_a_backup_of_its_past(tmp_path, first_db)
    _, data_file = stream_files(object_stream(names.ARTIFACTS_BUCKET))
    whole = (backup / data_file).read_bytes()
    rechecksummed(backup, data_file, whole[: len(whole) // 2])
    shown = await what_a_new_stack_shows(settings)  # (a stack started there: what it holds then)
    before = await raw_contents(settings)
    # when it is restored over the factory (the artifacts are the last stream restored)
    result = await asyncio.to_thread(
        vfo, "restore", str(backup), "--yes", "--data-dir", str(settings.data_dir), database_url=first_db
    )
    # then it fails, naming the step, and saying that nothing changed
    assert result.returncode == 1, result.stdout + result.stderr
    message = " ".join(result.stderr.split())
    assert f"the restore of {backup.name} failed while restoring the stream OBJ_artifacts" in message
    assert "nothing was changed" in message and "2 jobs" in message
    assert "Traceback" not in result.stderr + result.stdout
    # and the factory holds exactly what it held: events, artifacts, streams, secrets, as stored
    assert await raw_contents(settings) == before
    # and, through the API, the same jobs, board, registry, keys and webhooks, every artifact whole
    assert await what_a_new_stack_shows(settings) == shown
    assert not (settings.data_dir / "restore-undo").exists()


async def test_a_restore_whose_database_copy_fails_puts_everything_back(
    tmp_path: Path, databases: tuple[str | None, str | None], monkeypatch: pytest.MonkeyPatch
):
    # given a factory, a good backup of its past, and a database that fails the restore's copy
    first_db, _ = databases
    settings, backup = await factory_with_a_backup_of_its_past(tmp_path, first_db)
    shown = await what_a_new_stack_shows(settings)  # (a stack started there: what it holds then)
    before = await raw_contents(settings)
    real_load, calls = tablecopy.load, []

    async def failing_once(engine: Any, folder: Path) -> dict[str, int]:
        calls.append(folder)
        if len(calls) == 1:
            raise InfrastructureError("the database went away")
        return await real_load(engine, folder)

    monkeypatch.setattr(tablecopy, "load", failing_once)
    # when it is restored (every stream is restored by then)
    async with data_dir_nats(settings) as offline:
        with pytest.raises(RestoreFailed) as failed:
            await restore_backup(offline, backup, verify(backup), lambda _: True)
    # then the error names the step and the cause, and the data directory is as it was
    assert "while copying the registry's and the webhooks' tables into the database" in str(failed.value)
    assert "(the database went away); nothing was changed" in str(failed.value)
    assert await raw_contents(settings) == before
    assert await what_a_new_stack_shows(settings) == shown
    # (the tables, too, came back from the copy taken before anything was touched)
    assert len(calls) == 2 and calls[0] == backup and calls[1].parent.name == "restore-undo"


async def test_a_restore_that_could_not_put_back_keeps_the_copy_and_says_how(
    tmp_path: Path, databases: tuple[str | None, str | None], monkeypatch: pytest.MonkeyPatch
):
    # given a restore that fails half-way, and putting back what was there fails too
    first_db, _ = databases
    settings, backup = await factory_with_a_backup_of_its_past(tmp_path, first_db)
    before = await raw_contents(settings)

    async def broken(*args: Any) -> None:
        raise InfrastructureError("the disk is full")

    monkeypatch.setattr(restoresteps, "rebuilt", broken)
    monkeypatch.setattr(restore, "_put_back", broken)
    async with data_dir_nats(settings) as offline:
        with pytest.raises(RestoreFailed) as failed:
            await restore_backup(offline, backup, verify(backup), lambda _: True)
    monkeypatch.undo()
    # then the error says the data directory is half-restored, where the copy is, and how to use it
    (copy,) = backups_in(settings.data_dir / "restore-undo")
    message = str(failed.value)
    assert "while rebuilding the board from the events (the disk is full)" in message
    assert "putting back what was there failed too (the disk is full)" in message
    assert f"is half-restored. What it held is kept in {copy}: `vfo restore {copy} --yes" in message
    # and another restore there is refused until that copy is put back (or given up)
    again = await asyncio.to_thread(
        vfo, "restore", str(backup), "--yes", "--data-dir", str(settings.data_dir), database_url=first_db
    )
    assert again.returncode == 2 and f"is kept in {copy}: put it back first" in " ".join(again.stderr.split())
    # when the copy is restored, as the error said
    put_back = await asyncio.to_thread(
        vfo, "restore", str(copy), "--yes", "--data-dir", str(settings.data_dir), database_url=first_db
    )
    # then the data directory holds what it held, and the copy is gone
    assert put_back.returncode == 0, put_back.stderr
    assert await raw_contents(settings) == before
    assert not copy.exists()


async def test_a_backup_that_does_not_parse_is_refused_before_anything_is_touched(
    tmp_path: Path, databases: tuple[str | None, str | None]
):
    # given a backup
    first_db, second_db = databases
    async with Stack(embedded(tmp_path / "var", first_db)) as stack, client_of(stack) as http:
        await http.post("/api/v1/jobs", json={"title": "One", "brief": BRIEF})
        made = await make_backup(stack.settings, tmp_path / "backups")
    target = tmp_path / "elsewhere"
    table = "tables/registry_versions.jsonl"
    rows = (made.path / table).read_bytes()
    manifest = json.loads((made.path / "manifest.json").read_text())
    auth_meta, _ = stream_files("KV_auth")
    damage = {
        # a row that is not JSON, a row with a column no version has, a row too few
        table: [b"not json\n" + rows, rows.replace(b'"slug"', b'"slogan"', 1), rows.split(b"\n", 1)[1]],
        # a stream's description that is not one, or of another stream
        auth_meta: [b"{}", (made.path / stream_files("KV_config")[0]).read_bytes()],
        # a snapshot that is not one
        stream_files("WORK")[1]: [b"PK\x03\x04 a zip file"],
        # a manifest that does not list a stream
        "manifest.json": [
            json.dumps(manifest | {"files": [f for f in manifest["files"] if "KV_auth" not in f]}).encode()
        ],
    }
    expected = {
        table: ["line 1 is not a row", "columns this version does not know (slogan)", "holds"],
        auth_meta: ["does not describe a stream", "describes the stream 'KV_config', not KV_auth"],
        stream_files("WORK")[1]: ["is not a JetStream snapshot"],
        "manifest.json": [f"{auth_meta} is not in the backup"],
    }
    for name, versions in damage.items():
        original = (made.path / name).read_bytes()
        for data, words in zip(versions, expected[name], strict=True):
            # when one file is damaged in a way its checksum cannot tell
            rechecksummed(made.path, name, data)
            result = await asyncio.to_thread(
                vfo, "restore", str(made.path), "--data-dir", str(target), database_url=second_db
            )
            # then restoring it is refused, naming the file and what is wrong, and nothing is touched
            assert result.returncode == 2, (name, words, result.stdout + result.stderr)
            assert words in " ".join(result.stderr.split()), (name, result.stderr)
            assert "Traceback" not in result.stderr + result.stdout
            assert not target.exists()
        rechecksummed(made.path, name, original)
