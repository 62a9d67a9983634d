"""Logging in to the board with an API key; the page shows only what the key's role may do."""

from __future__ import annotations

import httpx
from playwright.async_api import Browser, expect

from tests.conftest import BRIEF
from vfo.stack import Stack


async def test_a_viewer_logs_in_sees_the_board_without_write_controls_and_logs_out(
    browser: Browser, stack: Stack, client: httpx.AsyncClient
):
    # given a viewer key and a job on the board
    viewer = (await client.post("/api/v1/keys", json={"name": "Ana (viewer)", "role": "viewer"})).json()[
        "key"
    ]
    job = (await client.post("/api/v1/jobs", json={"title": "Seen, not touched", "brief": BRIEF})).json()
    context = await browser.new_context(locale="en-US")
    page = await context.new_page()
    # when someone opens the board without a session, they land on the login page
    await page.goto(stack.board_url)
    await expect(page).to_have_url(f"{stack.board_url}/login?next=%2F")
    # a wrong key is refused with a sentence, a right one opens the board
    await page.fill("#login-key", "vfo_not_a_key")
    await page.click("button[type=submit]")
    await expect(page.locator("#login-error")).to_contain_text("not valid")
    await page.fill("#login-key", viewer)
    await page.click("button[type=submit]")
    await page.wait_for_selector(".connection.live")
    await expect(page.locator("#whoami")).to_contain_text("Ana (viewer) · default · viewer")
    await expect(page.locator(f'.card[data-id="{job["id"]}"]')).to_be_visible()
    # then what a viewer cannot do is not on the page
    for control in ("#new-video", "#retry-failed", "#auto-video-global"):
        await expect(page.locator(control)).to_be_hidden()
    # and logging out ends the session
    await page.click("#log-out")
    await expect(page).to_have_url(f"{stack.board_url}/login?next=%2F")
    assert (await context.request.get(f"{stack.board_url}/api/v1/board")).status == 401
    await context.close()
