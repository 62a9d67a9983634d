"""Issue 14 in a real browser: the recipe chosen in the New video form, step-by-step jobs pausing
for review while Auto video is on, and a job that failed on its configuration rescued from the
drawer (retried with the current configuration, rendered again with other settings, duplicated)."""

from __future__ import annotations

import httpx
from playwright.async_api import Page, expect

from tests.browser.conftest import screenshot
from tests.browser.test_board_ui import card
from tests.conftest import BRIEF, wait_for_state
from tests.integration.test_review_rescue_api import tiny_recipe, unchecked_voice
from vfo.stack import Stack


async def test_a_recipe_chosen_in_the_form_and_step_by_step_pauses_with_auto_video_on(
    page: Page, client: httpx.AsyncClient
):
    # given Auto video on for everyone, and an ordinary job that runs to the end
    assert (await client.get("/api/v1/settings/auto-video")).json()["enabled"] is True
    await client.post("/api/v1/jobs", json={"title": "Ordinary", "brief": BRIEF, "auto_video": False})
    # when a step-by-step job of another recipe is made in the form, Auto video left on
    await page.click("#new-video")
    await page.fill("#f-title", "Reviewed short")
    await page.fill("#f-brief", BRIEF)
    await page.select_option("#f-recipe", "vertical-short")
    await expect(page.locator("#f-auto")).to_be_checked()
    await page.check("#f-step")
    await screenshot(page, "new-video-recipe-step-by-step")
    await page.click("#new-submit")
    await expect(card(page, "Reviewed short", "A_FAZER")).to_be_visible()
    await card(page, "Reviewed short").drag_to(page.locator('.column[data-column="ROTEIRO"]'))
    # then it stops after the script, waiting for review
    paused = card(page, "Reviewed short", "ROTEIRO")
    await expect(paused).to_have_attribute("data-state", "SCRIPT_DONE", timeout=60_000)
    await expect(paused.locator(".card-review")).to_have_text("Waiting for your review")
    jobs = (await client.get("/api/v1/jobs")).json()["items"]
    job_id = next(j["id"] for j in jobs if j["title"] == "Reviewed short")
    detail = (await client.get(f"/api/v1/jobs/{job_id}")).json()
    assert detail["config"]["recipe"]["slug"] == "vertical-short" and detail["auto_video"] is True
    # and the board can show only what waits for review
    await page.check("#filter-review")
    await expect(page.locator(".card:visible")).to_have_count(1)
    await expect(page.locator(".card:visible")).to_contain_text("Reviewed short")
    await screenshot(page, "board-waiting-review")
    await page.uncheck("#filter-review")
    await expect(page.locator(".card:visible")).to_have_count(2)
    await paused.click()
    await expect(page.locator("#d-review")).to_be_visible()
    await page.click("#d-close")
    # when the person moves it on, the narration runs and it waits again
    await paused.drag_to(page.locator('.column[data-column="NARRACAO"]'))
    narrated = card(page, "Reviewed short", "NARRACAO")
    await expect(narrated).to_have_attribute("data-state", "TTS_DONE", timeout=60_000)
    await expect(narrated.locator(".card-review")).to_be_visible()
    # and the page says so in Portuguese too
    await page.click('[data-ui-lang="pt-BR"]')
    await expect(narrated.locator(".card-review")).to_have_text("Aguardando sua revisão")
    await expect(page.locator("#filter-review + span")).to_have_text("Aguardando revisão")


async def test_rescue_a_job_that_failed_on_its_configuration(
    page: Page, client: httpx.AsyncClient, stack: Stack
):
    # given a job that failed on a voice preset saved before presets were checked
    await unchecked_voice(stack, "fixme", "zz-nowhere")
    recipe = await tiny_recipe(client)
    body = {
        "title": "Rescued",
        "brief": BRIEF,
        "recipe": recipe,
        "voice_preset": "fixme",
        "start": "CONCLUIDO",
    }
    job = (await client.post("/api/v1/jobs", json=body)).json()
    await wait_for_state(client, job["id"], ("FAILED",))
    await expect(card(page, "Rescued")).to_have_attribute("data-state", "FAILED")
    # and the preset fixed in the registry since
    fixed = await client.post("/api/v1/registry/presets", json={"slug": "voice.fixme", "voice": "en-us"})
    assert fixed.status_code == 201, fixed.text
    # when the person retries it with the current configuration from the drawer
    await card(page, "Rescued").click()
    await screenshot(page, "drawer-failed-rescue")
    await page.click("#d-retry-config")
    # then it finishes
    await expect(card(page, "Rescued", "CONCLUIDO")).to_be_visible(timeout=120_000)
    await page.click('[data-tab="logs"]')
    await expect(page.locator("#d-panel .logs")).to_contain_text("Configuration resolved again")
    # when the person turns captions off and renders again
    form = page.locator("#d-render-form")
    await expect(form).to_be_visible()
    await form.locator('select[name="captions"]').select_option("off")
    await screenshot(page, "drawer-render-again")
    await page.click("#d-render")
    await expect(page.locator(".toast", has_text="Rendering with these settings")).to_be_visible()

    await expect(card(page, "Rescued")).to_have_attribute("data-state", "RENDER_RUNNING", timeout=20_000)
    done = await wait_for_state(client, job["id"], ("DONE",))
    assert done["render_settings"] == {"captions": "off"}
    assert [s["attempt"] for s in done["steps"] if s["step"] == "render"] == [2]
    # when it is duplicated
    await expect(card(page, "Rescued", "CONCLUIDO")).to_be_visible()
    await page.click("#d-duplicate")
    # then a new job with its inputs waits in To do, and the old one stays done
    await expect(card(page, "Rescued", "A_FAZER")).to_be_visible()
    await expect(card(page, "Rescued", "CONCLUIDO")).to_be_visible()
