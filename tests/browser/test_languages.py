"""Every page in English, Portuguese and Spanish: no raw key and no unfilled placeholder on screen
(board, a running job's drawer, a finished job's log, the New video form, the admin form), with a
screenshot of each for a person to look at."""

from __future__ import annotations

import re

import httpx
from playwright.async_api import Page, expect

from tests.browser.conftest import screenshot
from tests.browser.test_board_ui import card
from tests.conftest import BRIEF, wait_for_state
from tests.e2e.test_processes import VERY_LONG_BRIEF

RAW = re.compile(r"\b(msg|adm|ev|kind|status|login|sf)_[a-z_]+\b|\{[a-z_]+\}")


async def untranslated(page: Page) -> list[str]:
    text = await page.evaluate("document.body.innerText")
    return [m.group(0) for m in RAW.finditer(text)]


async def test_each_page_in_each_language(page: Page, client: httpx.AsyncClient):
    finished = {"title": "Finished one", "brief": BRIEF, "start": "CONCLUIDO"}
    done = (await client.post("/api/v1/jobs", json=finished)).json()
    paused = {"title": "Waits for me", "brief": BRIEF, "auto_video": False, "start": "ROTEIRO"}
    await client.post("/api/v1/jobs", json=paused)
    await wait_for_state(client, done["id"], ("DONE",))
    running = {"title": "Long running", "brief": VERY_LONG_BRIEF, "start": "CONCLUIDO"}
    long = (await client.post("/api/v1/jobs", json=running)).json()
    await wait_for_state(client, long["id"], ("TTS_RUNNING", "RENDER_RUNNING"))
    languages = (
        ("en", "New video", "Live"),
        ("pt-BR", "Novo vídeo", "Ao vivo"),
        ("es", "Nuevo video", "En vivo"),
    )
    for code, new_video, live in languages:
        await page.click(f'[data-ui-lang="{code}"]')
        await expect(page.locator("#new-video")).to_have_text(new_video)
        await expect(page.locator("#connection")).to_have_text(live)  # what was written before the switch too
        await screenshot(page, f"lang-{code}-board")
        assert await untranslated(page) == [], code
        await card(page, "Long running").click()
        await expect(page.locator("#d-panel .steps")).to_be_visible()
        await screenshot(page, f"lang-{code}-drawer-running")
        assert await untranslated(page) == [], code
        await page.click("#d-close")
        await card(page, "Finished one").click()
        await page.click('[data-tab="logs"]')
        await expect(page.locator("#d-panel .logs li").first).to_be_visible()
        await screenshot(page, f"lang-{code}-drawer-logs")
        assert await untranslated(page) == [], code
        await page.click("#d-close")
        await page.click("#new-video")
        await page.click("#save-template")
        await page.fill("#f-template-name", "Mistério")
        await screenshot(page, f"lang-{code}-new-video")
        assert await untranslated(page) == [], code
        await page.click("#new-cancel")
        await page.click("#admin-link")
        await page.click('[data-kind="prompts"]')
        await page.click("#new-item")
        await expect(page.locator("#schema-form")).to_be_visible()
        await screenshot(page, f"lang-{code}-admin-form")
        assert await untranslated(page) == [], code
        await page.click('a[href="/"]')  # back to the board
        await page.wait_for_selector(".connection.live")
