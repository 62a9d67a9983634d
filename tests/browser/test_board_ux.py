"""The small things a user hits in the first hour, in a real browser: toasts for what other clients
do, templates named in the form, columns that scroll on their own, the generated backgrounds in the
drawer, and the board in three languages with every key in each."""

from __future__ import annotations

import httpx
from playwright.async_api import Page, expect

from shared.bus import Bus
from shared.config import VoicePreset, config_key
from shared.said import ENGLISH
from tests.browser.conftest import screenshot
from tests.browser.test_board_ui import card
from tests.conftest import BRIEF, wait_for_state
from vfo.stack import Stack


async def test_a_job_finished_by_another_client_shows_a_toast_and_its_backgrounds(
    page: Page, client: httpx.AsyncClient
):
    # given a job created and run through the API (another client, not this page)
    job = (
        await client.post(
            "/api/v1/jobs", json={"title": "Made elsewhere", "brief": BRIEF, "start": "CONCLUIDO"}
        )
    ).json()
    # then this page says so when it is finished, and the toast opens it
    done = page.locator(".toast", has_text="Made elsewhere is finished.")
    await expect(done).to_be_visible(timeout=120_000)
    await screenshot(page, "toast-done")
    await done.get_by_role("button", name="Open").click()
    await expect(page.locator("#d-title")).to_have_text("Made elsewhere")
    # and the Images tab shows the backgrounds that were generated, not only the thumbnail
    await page.click('[data-tab="images"]')
    detail = (await client.get(f"/api/v1/jobs/{job['id']}")).json()
    backgrounds = [a for a in detail["artifacts"] if a["name"].startswith("background-")]
    assert backgrounds and all(a["mime_type"] == "image/jpeg" for a in backgrounds)
    await expect(page.locator("#d-panel .gallery img")).to_have_count(len(backgrounds) + 1)
    await expect(page.locator("#d-panel .empty")).to_contain_text(f"{len(backgrounds)} background")
    await screenshot(page, "drawer-images")


async def test_a_failure_and_a_pause_for_review_are_toasted(
    page: Page, client: httpx.AsyncClient, stack: Stack
):
    # given a voice preset the offline engine does not have, so narration fails
    bus = await Bus.connect(stack.settings.nats_url or "", "test")
    kv = await bus.config()
    await kv.put(
        config_key("preset.voice", "broken"),
        VoicePreset(slug="broken", voice="zz-nowhere").model_dump_json().encode(),
    )
    await bus.close()
    failing = {"title": "Will fail", "brief": BRIEF, "voice_preset": "broken", "start": "CONCLUIDO"}
    await client.post("/api/v1/jobs", json=failing)
    # then its failure is toasted with the step and the reason
    failed = page.locator(".toast.error", has_text="Will fail failed in narration")
    await expect(failed).to_contain_text("voice", timeout=120_000)
    # given a job without Auto video, run to the end of its script
    paused = {"title": "Read me first", "brief": BRIEF, "auto_video": False, "start": "ROTEIRO"}
    job = (await client.post("/api/v1/jobs", json=paused)).json()
    await wait_for_state(client, job["id"], ("SCRIPT_DONE",))
    # then the page says it waits for a review
    await expect(page.locator(".toast.review")).to_contain_text(
        "Read me first waits for your review (Script ready)"
    )


async def test_a_template_is_named_in_the_form_and_its_slug_keeps_its_letters(
    page: Page, client: httpx.AsyncClient
):
    await page.click("#new-video")
    await page.select_option("#f-story", "misterio")
    await page.click("#save-template")
    # an empty name is refused next to the field, not by a browser prompt
    await page.click("#template-name-save")
    await expect(page.locator('[data-error-for="name"]')).to_have_text("Give the template a name.")
    await page.fill("#f-template-name", "Mistério à noite")
    await expect(page.locator("#template-slug")).to_contain_text("misterio-a-noite")
    await screenshot(page, "template-name")
    await page.press("#f-template-name", "Enter")
    await expect(page.locator(".toast", has_text="Template saved.")).to_be_visible()
    await expect(page.locator("#f-template")).to_have_value("misterio-a-noite")
    saved = (await client.get("/api/v1/templates")).json()["items"]
    assert [(t["slug"], t["name"], t["story_type"]) for t in saved] == [
        ("misterio-a-noite", "Mistério à noite", "misterio")
    ]
    # and slugs of names in other scripts are not empty
    slugs = await page.evaluate(
        "import('/static/modal.js').then((m) => ['Ærø Øl', 'Straße', '夜の話', '!!!'].map(m.slugOf))"
    )
    assert slugs[:2] == ["aero-ol", "strasse"]
    assert slugs[2].startswith("template-") and len(slugs[2]) > len("template-")


async def test_each_column_scrolls_on_its_own_and_the_page_does_not(page: Page, client: httpx.AsyncClient):
    for n in range(14):
        await client.post("/api/v1/jobs", json={"title": f"Idea {n}", "brief": BRIEF, "auto_video": False})
    await expect(page.locator('.column[data-column="A_FAZER"] .card')).to_have_count(14)
    cards = page.locator('.column[data-column="A_FAZER"] .cards')
    assert await cards.evaluate("c => c.scrollHeight > c.clientHeight")  # the column scrolls...
    assert await page.evaluate("document.scrollingElement.scrollHeight <= innerHeight")  # ...the page not
    await cards.evaluate("c => { c.scrollTop = c.scrollHeight; }")
    await expect(card(page, "Idea 0")).to_be_in_viewport()
    await screenshot(page, "board-columns-scroll")


async def test_every_key_in_every_language_and_the_board_in_spanish(page: Page, client: httpx.AsyncClient):
    missing = await page.evaluate("import('/static/i18n.js').then((m) => m.missingKeys())")
    assert missing == {"en": [], "pt-BR": [], "es": []}
    # every sentence a worker writes in a job's log has a translation
    keys = await page.evaluate("import('/static/i18n.js').then((m) => Object.keys(m.dictionaries.es))")
    assert {f"msg_{code}" for code in ENGLISH} <= set(keys)
    # the board in Spanish: columns, plurals, dates and a worker's log sentence
    job = (
        await client.post("/api/v1/jobs", json={"title": "Pulpos", "brief": BRIEF, "start": "CONCLUIDO"})
    ).json()
    await wait_for_state(client, job["id"], ("DONE",))
    await page.click('[data-ui-lang="es"]')
    await expect(page.locator('.column[data-column="ROTEIRO"] h2')).to_contain_text("Guion")
    await expect(page.locator("#new-video")).to_have_text("Nuevo video")
    await card(page, "Pulpos").click()
    await page.click('[data-tab="logs"]')
    await expect(page.locator("#d-panel .logs")).to_contain_text("escribiendo el guion")
    await expect(page.locator("#d-panel .logs")).to_contain_text("Video terminado")
    assert await page.evaluate("document.documentElement.lang") == "es"
    await screenshot(page, "drawer-logs-es")
    # and a refusal's reason is in Spanish too
    await page.click("#d-close")
    await card(page, "Pulpos").drag_to(page.locator('.column[data-column="ROTEIRO"]'))
    refused = "No se movió: los trabajos solo avanzan, y este está en Terminado"
    await expect(page.locator(".toast.error")).to_contain_text(refused)
    plural = await page.evaluate(
        "import('/static/i18n.js').then((m) => [1, 2].map((n) => m.t('retries', { n })))"
    )
    assert plural == ["1 reintento", "2 reintentos"]
