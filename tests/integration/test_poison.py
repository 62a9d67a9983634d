"""Poisoned messages on JOB_EVENTS: every reader (projector, conductor, event store, webhook
dispatcher) records what it cannot read, skips it, and goes on; admins see it on the board."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest

from shared import names
from shared.bus import Bus
from shared.natsserver import EmbeddedNats
from shared.settings import Settings
from tests.conftest import BRIEF, Receiver, stack_settings, wait_for_state
from tests.integration.test_webhooks import deliveries_until, subscribe
from vfo.stack import Stack

POISON = [
    b"not json at all \xff",
    b"[1, 2, 3]",
    json.dumps({"type": "job_created", "job_id": "x", "occurred_at": "yesterday", "payload": {}}).encode(),
    json.dumps({"type": 42}).encode(),
]


@pytest.fixture
def settings(tmp_path: Path, nats_server: EmbeddedNats, database_url: str) -> Settings:
    return stack_settings(tmp_path, nats_server, database_url, webhook_allow_hosts="127.0.0.1")


async def poison(bus: Bus, job_id: str) -> list[int]:
    """Publish every poisoned message on `job_id`'s subject, as a buggy or hostile writer would."""
    sequences = []
    for data in POISON:
        ack = await bus.js.publish(names.job_subject(job_id), data, stream=names.JOB_EVENTS_STREAM)
        sequences.append(ack.seq)
    return sequences


async def test_the_board_and_webhooks_skip_unreadable_events_and_go_on(
    stack: Stack, client: httpx.AsyncClient, bus: Bus, receiver: Receiver
):
    # given a webhook subscriber, and poisoned messages on a subject of their own
    sub = await subscribe(client, receiver.url, event_types=["job.completed"])
    stray = await poison(bus, str(uuid.uuid4()))
    # and a job whose own subject holds poison between its events
    created = await client.post("/api/v1/jobs", json={"title": "Poisoned", "brief": BRIEF})
    assert created.status_code == 201, created.text
    job = created.json()
    own = await poison(bus, job["id"])
    # when the job is sent to the end
    moved = await client.post(f"/api/v1/jobs/{job['id']}/move", json={"column": "CONCLUIDO"})
    assert moved.status_code == 200, moved.text
    # then it runs to DONE (the conductor, the workers' event store and the projector read past it)
    done = await wait_for_state(client, job["id"], ("DONE",))
    assert done["last_error"] is None
    # and the webhook service, which read the same stream, delivered its completion
    (delivery,) = await deliveries_until(client, sub["id"], "delivered")
    assert delivery["event_type"] == "job_completed" or delivery["job_id"] == job["id"]
    # and admins see every skipped entry, where and why
    found = (await client.get("/api/v1/admin/unreadable-events")).json()
    assert found["total"] == len(POISON) * 2
    assert sorted(item["seq"] for item in found["items"]) == sorted(stray + own)
    by_seq = {item["seq"]: item for item in found["items"]}
    assert "JSONDecodeError" in by_seq[own[0]]["reason"] or "UnicodeDecodeError" in by_seq[own[0]]["reason"]
    assert "list" in by_seq[own[1]]["reason"]
    assert "occurred_at" in by_seq[own[2]]["reason"]
    assert by_seq[own[0]]["job_id"] == job["id"]
    # and the skips were counted by each reader
    metrics = (await client.get("/metrics")).text
    for reader in ("projector", "conductor", "webhooks", "event-store"):
        assert f'vfo_unreadable_events_total{{reader="{reader}"}}' in metrics, reader


async def test_a_rebuilt_board_records_the_same_unreadable_entries(
    stack: Stack, client: httpx.AsyncClient, bus: Bus
):
    # given poison on the stream and a job after it
    stray = await poison(bus, str(uuid.uuid4()))
    job = (await client.post("/api/v1/jobs", json={"title": "After", "brief": BRIEF})).json()
    await wait_for_state(client, job["id"], ("READY",))
    before = (await client.get("/api/v1/admin/unreadable-events")).json()
    # when the board is rebuilt from the events
    rebuilt = await client.post("/api/v1/admin/projection/rebuild")
    assert rebuilt.status_code == 200, rebuilt.text
    # then the same entries are recorded, and the job is still there
    after = (await client.get("/api/v1/admin/unreadable-events")).json()
    assert [i["seq"] for i in after["items"]] == [i["seq"] for i in before["items"]]
    assert sorted(i["seq"] for i in after["items"]) == stray
    assert (await client.get(f"/api/v1/jobs/{job['id']}")).status_code == 200


async def test_only_admins_of_every_project_see_unreadable_entries(stack: Stack, client: httpx.AsyncClient):
    created = await client.post("/api/v1/keys", json={"name": "op", "role": "operator", "project": "*"})
    assert created.status_code == 201, created.text
    operator = {"Authorization": f"Bearer {created.json()['key']}"}
    response = await client.get("/api/v1/admin/unreadable-events", headers=operator)
    assert response.status_code == 403
    assert "admin" in response.json()["message"]
