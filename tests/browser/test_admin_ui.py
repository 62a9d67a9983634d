"""The configuration admin in a real browser: create a prompt, edit it, see the diff, roll back."""

from __future__ import annotations

import asyncio
import json

from playwright.async_api import Page, Route, expect

from tests.browser.conftest import screenshot
from vfo.stack import Stack


async def test_create_edit_diff_and_roll_back_a_prompt(page: Page, stack: Stack):
    # given the admin pages, reached from the board
    await page.click("#admin-link")
    await page.click('[data-kind="prompts"]')
    await expect(page.locator('tr.row[data-slug="story-script-en"]')).to_be_visible()
    # when a prompt is created (a bad template is flagged live first)
    await page.click("#new-item")
    await page.click("#view-json")  # the raw JSON, not the form generated from the schema
    bad = {"slug": "hook", "system_prompt": "Open strong.", "user_template": "Hook for {{nope}}"}
    await page.fill("#editor", json.dumps(bad))
    await expect(page.locator("#validation")).to_contain_text("{{nope}}, which no step provides")
    await expect(page.locator("#save")).to_be_disabled()
    good = bad | {"user_template": "Hook for {{title}}"}
    await page.fill("#editor", json.dumps(good))
    await expect(page.locator("#validation")).to_contain_text("valid")
    await page.click("#save")
    await expect(page.locator(".toast")).to_contain_text("Saved hook v1")
    # and edited
    await page.fill("#editor", json.dumps(good | {"system_prompt": "Open with a question."}))
    await expect(page.locator("#validation")).to_contain_text("valid")
    await page.click("#save")
    await expect(page.locator(".toast").last).to_contain_text("Saved hook v2")
    # then the history shows both versions and the diff shows the change
    await page.click('[data-version="2"] .diff-button')
    await expect(page.locator("#diff .del")).to_contain_text(["-system_prompt: Open strong."])
    await expect(page.locator("#diff .add")).to_contain_text(["+system_prompt: Open with a question."])
    await screenshot(page, "admin-history")
    # and rolling back to v1 makes v3 with v1's content
    await page.click('[data-version="1"] .rollback')
    await expect(page.locator(".toast").last).to_contain_text("back to v1's content, as v3")
    editor = json.loads(await page.input_value("#editor"))
    assert editor["system_prompt"] == "Open strong."
    # and the execution map lists what each recipe uses
    await page.click('[data-kind="map"]')
    await expect(page.locator('[data-recipe="vertical-short"]')).to_contain_text("portrait-1080x1920")


async def test_a_slow_answer_never_replaces_the_view_opened_after_it(page: Page):
    await page.click("#admin-link")
    await expect(page.locator('tr.row[data-slug="story-script-en"]')).to_be_visible()

    async def slowly(route: Route) -> None:
        await asyncio.sleep(1.5)
        await route.continue_()

    # the list is asked for again and answers slowly; meanwhile the user opens a new item
    await page.route("**/api/v1/registry/prompts", slowly)
    await page.click('[data-kind="prompts"]')
    await page.click("#new-item")
    await expect(page.locator("#save")).to_be_visible()
    await page.wait_for_timeout(2500)  # the slow list has answered by now
    await expect(page.locator("#save")).to_be_visible()  # and was dropped, not shown over the editor
