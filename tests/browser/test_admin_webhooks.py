"""Webhooks in the admin page: subscribe (secret shown once), see the delivery log, redeliver."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, expect

from shared.natsserver import EmbeddedNats
from shared.settings import Settings
from tests.conftest import BRIEF, Receiver, stack_settings, wait_for_state


@pytest.fixture
def settings(tmp_path: Path, nats_server: EmbeddedNats, database_url: str) -> Settings:
    return stack_settings(tmp_path, nats_server, database_url, webhook_allow_hosts="127.0.0.1")


async def test_subscribe_see_deliveries_and_redeliver(
    page: Page, client: httpx.AsyncClient, receiver: Receiver
):
    # given a subscription made in the admin page
    await page.goto(page.url.rstrip("/") + "/admin")
    await page.click('[data-kind="webhooks"]')
    await page.fill("#hook-url", receiver.url)
    await page.click("#hook-add")
    await expect(page.locator("#hook-secret")).to_contain_text("whsec_")
    # when a job completes
    job = (
        await client.post("/api/v1/jobs", json={"title": "Told", "brief": BRIEF, "start": "CONCLUIDO"})
    ).json()
    await wait_for_state(client, job["id"], ("DONE",))
    # then the delivery log shows it delivered, and redeliver sends it again
    await page.click("button.deliveries")
    await expect(page.locator("[data-delivery]")).to_contain_text("delivered", timeout=15_000)
    await expect(page.locator("[data-delivery] .attempts li").first).to_contain_text("200")
    await page.click("button.redeliver")
    await expect(page.locator("[data-delivery] .attempts li")).to_have_count(2, timeout=15_000)
    assert len(receiver.seen) == 2 and receiver.seen[0][1]["webhook-id"] == receiver.seen[1][1]["webhook-id"]
