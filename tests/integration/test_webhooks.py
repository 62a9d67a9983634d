"""Webhook delivery end to end: a local receiver, real NATS and database, the real dispatcher."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from shared.natsserver import EmbeddedNats
from shared.settings import Settings
from tests.conftest import BRIEF, Receiver, stack_settings, wait_for_state

SCHEDULE = (0.3, 0.6, 1.2)


@pytest.fixture
def settings(tmp_path: Path, nats_server: EmbeddedNats, database_url: str) -> Settings:
    """The stack, allowed to deliver to this machine (the receiver), with a fast retry schedule."""
    return stack_settings(
        tmp_path,
        nats_server,
        database_url,
        webhook_allow_hosts="127.0.0.1",
        webhook_backoff_s=",".join(map(str, SCHEDULE)),
    )


async def subscribe(client: httpx.AsyncClient, url: str, **fields: object) -> dict:
    response = await client.post("/api/v1/webhooks", json={"url": url} | fields)
    assert response.status_code == 201, response.text
    return response.json()


async def finished_job(client: httpx.AsyncClient) -> dict:
    job = (
        await client.post("/api/v1/jobs", json={"title": "Hooked", "brief": BRIEF, "start": "CONCLUIDO"})
    ).json()
    return await wait_for_state(client, job["id"], ("DONE",))


async def deliveries_until(client: httpx.AsyncClient, subscription: str, status: str) -> list[dict]:
    for _ in range(300):
        found = (await client.get(f"/api/v1/webhooks/{subscription}/deliveries")).json()
        if found and found[0]["status"] == status:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"no delivery reached {status}: {found}")


async def test_500_500_200_is_one_webhook_id_retried_on_schedule(
    client: httpx.AsyncClient, receiver: Receiver
):
    # given a subscriber that fails twice
    receiver.script = [(500, {}), (500, {})]
    sub = await subscribe(client, receiver.url, event_types=["job.completed"])
    assert sub["secret"].startswith("whsec_")
    # when a job completes
    job = await finished_job(client)
    (delivery,) = await deliveries_until(client, sub["id"], "delivered")
    # then three requests carried the same webhook-id, a valid signature and the job
    assert len(receiver.seen) == 3
    ids = {headers["webhook-id"] for _, headers, _ in receiver.seen}
    assert ids == {delivery["id"]}
    body = Webhook(sub["secret"]).verify(receiver.seen[-1][2], receiver.seen[-1][1])
    assert body["type"] == "job.completed" and body["data"]["job_id"] == job["id"]
    assert body["data"]["project"] == "default"
    # and its artifact links are signed: they open without a key, and not once altered
    link = body["data"]["links"]["video.mp4"]
    assert f"/api/v1/jobs/{job['id']}/artifacts/video.mp4?expires=" in link
    async with httpx.AsyncClient(timeout=30) as anonymous:
        assert (await anonymous.get(link, headers={"Range": "bytes=0-99"})).status_code == 206
        assert (await anonymous.get(link.replace("video.mp4", "thumbnail.jpg"))).status_code == 401
        assert (await anonymous.get(link.split("?")[0])).status_code == 401
    # and the retries waited at least the published schedule
    gaps = [later[0] - earlier[0] for earlier, later in zip(receiver.seen, receiver.seen[1:], strict=False)]
    assert gaps[0] >= SCHEDULE[0] - 0.05 and gaps[1] >= SCHEDULE[1] - 0.05
    assert [a["status_code"] for a in delivery["attempt_log"]] == [500, 500, 200]
    assert all(a["latency_ms"] >= 0 for a in delivery["attempt_log"])


async def test_410_disables_the_subscription(client: httpx.AsyncClient, receiver: Receiver):
    receiver.script = [(410, {})]
    sub = await subscribe(client, receiver.url)
    await finished_job(client)
    await deliveries_until(client, sub["id"], "failed")
    after = (await client.get(f"/api/v1/webhooks/{sub['id']}")).json()
    assert after["active"] is False and "410" in after["disabled_reason"]


async def test_429_waits_for_retry_after(client: httpx.AsyncClient, receiver: Receiver):
    receiver.script = [(429, {"Retry-After": "2"})]
    sub = await subscribe(client, receiver.url)
    await finished_job(client)
    await deliveries_until(client, sub["id"], "delivered")
    assert receiver.seen[1][0] - receiver.seen[0][0] >= 1.9


async def test_redirects_are_not_followed(client: httpx.AsyncClient, receiver: Receiver):
    receiver.script = [(302, {"Location": "http://169.254.169.254/latest/meta-data"})]
    sub = await subscribe(client, receiver.url)
    await finished_job(client)
    (delivery,) = await deliveries_until(client, sub["id"], "failed")
    assert [a["status_code"] for a in delivery["attempt_log"]] == [302]
    assert len(receiver.seen) == 1


async def test_redeliver_sends_the_same_webhook_id_again(client: httpx.AsyncClient, receiver: Receiver):
    sub = await subscribe(client, receiver.url)
    await finished_job(client)
    (delivery,) = await deliveries_until(client, sub["id"], "delivered")
    again = await client.post(f"/api/v1/webhooks/{sub['id']}/deliveries/{delivery['id']}/redeliver")
    assert again.status_code == 202
    for _ in range(100):
        if len(receiver.seen) == 2:
            break
        await asyncio.sleep(0.05)
    assert [h["webhook-id"] for _, h, _ in receiver.seen] == [delivery["id"]] * 2


async def test_registration_refuses_internal_addresses_and_rotation_keeps_both_secrets(
    client: httpx.AsyncClient, receiver: Receiver
):
    refused = await client.post("/api/v1/webhooks", json={"url": "http://169.254.169.254/x"})
    assert refused.status_code == 422 and refused.json()["field"] == "url"
    assert "VFO_WEBHOOK_ALLOW_HOSTS" in refused.json()["message"]
    sub = await subscribe(client, receiver.url)
    rotated = (await client.post(f"/api/v1/webhooks/{sub['id']}/rotate")).json()
    assert rotated["secret"] != sub["secret"]
    assert (await client.get(f"/api/v1/webhooks/{sub['id']}")).json()["secret"] is None  # shown once only
    await finished_job(client)
    await deliveries_until(client, sub["id"], "delivered")
    body, headers = receiver.seen[-1][2], receiver.seen[-1][1]
    assert Webhook(rotated["secret"]).verify(body, headers) and Webhook(sub["secret"]).verify(body, headers)
    schema = (await client.get("/api/v1/webhooks/schema")).json()
    assert schema["properties"]["type"]["enum"] == [
        "job.completed",
        "job.failed",
        "job.cancelled",
        "step.completed",
    ]
