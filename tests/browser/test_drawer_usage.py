"""The drawer shows what a step's provider used: tokens in and out, and the estimated cost."""

from __future__ import annotations

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.browser.test_board_ui import card
from tests.conftest import BRIEF, wait_for_state
from tests.fake_models import FakeModels
from tests.integration.test_script_providers import use_provider


async def test_the_scripts_tokens_and_cost_are_in_the_drawer(
    page: Page, client: httpx.AsyncClient, models: FakeModels, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-fake")
    await use_provider(client, "anthropic", base_url=models.url)
    body = {"title": "Counted", "brief": BRIEF, "start": "ROTEIRO", "auto_video": False}
    job = (await client.post("/api/v1/jobs", json=body)).json()
    await wait_for_state(client, job["id"], ("SCRIPT_DONE",))
    await card(page, "Counted").click()
    # four calls (ideas, outline, script, metadata) of 321 tokens in at $2/M and 1,234 out at $10/M
    await expect(page.locator("#d-panel .usage").first).to_have_text("1284 → 4936 tokens · ≈ $0.0519")
