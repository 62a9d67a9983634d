"""The board in a real browser: create, drag, watch it finish live, play, cancel, resume, refuse,
filter, switch language, and move a card with the keyboard."""

from __future__ import annotations

import httpx
from playwright.async_api import Page, expect

from tests.browser.conftest import screenshot
from tests.conftest import BRIEF, tone_wav, wait_for_state
from tests.e2e.test_processes import LONG_BRIEF, VERY_LONG_BRIEF
from tests.integration.test_render_clips import _clip


def card(page: Page, title: str, column: str | None = None):
    scope = f'.column[data-column="{column}"] ' if column else ""
    return page.locator(f"{scope}.card", has_text=title)


async def test_create_drag_and_watch_it_finish_then_play_it(page: Page):
    # given the New video form, filled in and sent
    await page.click("#new-video")
    await page.fill("#f-title", "Three hearts, live")
    await page.fill("#f-brief", BRIEF)
    await page.select_option("#f-story", "misterio")
    await page.uncheck("#f-auto")
    await page.click("#new-submit")
    await expect(card(page, "Three hearts, live", "A_FAZER")).to_be_visible()
    await page.evaluate("window.__sameDocument = true")
    # when Auto video is switched on for it and it is dragged to ROTEIRO
    await card(page, "Three hearts, live").click()
    await page.check("#d-auto")
    await expect(card(page, "Three hearts, live").locator(".auto")).to_be_visible()  # the switch landed
    await page.click("#d-close")
    await card(page, "Three hearts, live").drag_to(page.locator('.column[data-column="ROTEIRO"]'))
    # then it reaches CONCLUIDO on its own, with no reload
    await expect(card(page, "Three hearts, live", "CONCLUIDO")).to_be_visible(timeout=120_000)
    assert await page.evaluate("window.__sameDocument") is True
    await screenshot(page, "board")
    # and the video plays in the drawer
    await card(page, "Three hearts, live").click()
    video = page.locator("#drawer video")
    await expect(video).to_be_visible()
    await video.evaluate("v => { v.muted = true; return v.play(); }")
    await page.wait_for_function("document.querySelector('#drawer video').currentTime > 0.3", timeout=20_000)
    await screenshot(page, "drawer")
    for tab in ("outline", "script", "audio", "logs"):
        await page.click(f'[data-tab="{tab}"]')
        await expect(page.locator("#d-panel")).not_to_be_empty()
    await expect(page.locator("#d-panel .logs li").first).to_contain_text("Video finished")


async def test_cancel_a_running_job_and_resume_it(page: Page, client: httpx.AsyncClient):
    job = (
        await client.post(
            "/api/v1/jobs", json={"title": "Long one", "brief": VERY_LONG_BRIEF, "start": "CONCLUIDO"}
        )
    ).json()
    await wait_for_state(client, job["id"], ("TTS_RUNNING", "RENDER_RUNNING"))
    await card(page, "Long one").click()
    # the Info tab's steps table agrees with the header while the step runs
    running = page.locator('#d-panel .steps tr[data-status="running"]')
    await expect(running).to_contain_text("running")
    await expect(running).to_contain_text("%")
    # Cancel asks first, in the page; "keep it running" changes nothing
    await page.click("#d-cancel")
    await expect(page.locator("#confirm-dialog")).to_contain_text("Cancel “Long one”?")
    await screenshot(page, "cancel-confirm")
    await page.click("#confirm-no")
    await expect(page.locator("#confirm-dialog")).not_to_be_visible()
    assert (await client.get(f"/api/v1/jobs/{job['id']}")).json()["state"] != "CANCELLED"
    await page.click("#d-cancel")
    await page.click("#confirm-yes")
    await expect(card(page, "Long one")).to_have_attribute("data-state", "CANCELLED")
    await expect(page.locator("#d-resume")).to_be_visible()
    await page.click("#d-resume")
    await expect(card(page, "Long one", "CONCLUIDO")).to_be_visible(timeout=180_000)


async def test_an_illegal_drop_is_refused_and_the_card_stays(page: Page, client: httpx.AsyncClient):
    job = (
        await client.post("/api/v1/jobs", json={"title": "Finished", "brief": BRIEF, "start": "CONCLUIDO"})
    ).json()
    await wait_for_state(client, job["id"], ("DONE",))
    await expect(card(page, "Finished", "CONCLUIDO")).to_be_visible()
    await card(page, "Finished").drag_to(page.locator('.column[data-column="ROTEIRO"]'))
    await expect(page.locator(".toast.error")).to_contain_text("only move forward")
    await expect(card(page, "Finished", "CONCLUIDO")).to_be_visible()


async def test_filters_and_portuguese(page: Page, client: httpx.AsyncClient):
    await client.post("/api/v1/jobs", json={"title": "Octopus facts", "brief": BRIEF, "auto_video": False})
    await client.post(
        "/api/v1/jobs", json={"title": "Polvos", "brief": BRIEF, "language": "pt-BR", "auto_video": False}
    )
    await expect(page.locator(".card")).to_have_count(2)
    await page.fill("#filter-text", "octo")
    await expect(page.locator(".card:visible")).to_have_count(1)
    await page.fill("#filter-text", "")
    await page.select_option("#filter-language", "pt-BR")
    await expect(page.locator(".card:visible")).to_have_count(1)
    await expect(page.locator(".card:visible")).to_contain_text("Polvos")
    await expect(page.locator('.column[data-column="A_FAZER"] .count')).to_have_text("1")
    await page.click('[data-ui-lang="pt-BR"]')
    await expect(page.locator('.column[data-column="ROTEIRO"] h2')).to_contain_text("Roteiro")
    await expect(page.locator("#new-video")).to_have_text("Novo vídeo")
    await page.set_viewport_size({"width": 390, "height": 844})
    await screenshot(page, "board-phone-pt")


async def test_a_card_moves_with_the_keyboard(page: Page, client: httpx.AsyncClient):
    job = (
        await client.post("/api/v1/jobs", json={"title": "Keyboard", "brief": BRIEF, "auto_video": False})
    ).json()
    target = card(page, "Keyboard")
    await target.focus()
    await page.keyboard.press("Space")
    await expect(page.locator("#announcer")).to_contain_text("Picked up Keyboard")
    await page.keyboard.press("ArrowRight")
    await expect(page.locator('.column[data-column="ROTEIRO"]')).to_have_class("column drop-target")
    await page.keyboard.press("Space")
    await expect(card(page, "Keyboard", "ROTEIRO")).to_be_visible()
    done = await wait_for_state(client, job["id"], ("SCRIPT_DONE",))
    assert done["column"] == "ROTEIRO"


async def test_a_batch_file_imports_from_the_board(page: Page, tmp_path):
    rows = tmp_path / "jobs.csv"
    rows.write_text(
        "title,brief,language,auto_video\n"
        "From CSV one,An idea.,en-US,false\n"
        "Do CSV dois,Uma ideia.,pt-BR,false\n"
    )
    await page.set_input_files("#import-file", str(rows))
    await expect(page.locator(".toast", has_text="2 jobs created")).to_be_visible()
    await expect(card(page, "From CSV one")).to_be_visible()
    await expect(card(page, "Do CSV dois")).to_be_visible()
    bad = tmp_path / "bad.csv"
    bad.write_text("title,brief,language\nOk,Fine.,en-US\nNope,Fine.,xx-XX\n")
    await page.set_input_files("#import-file", str(bad))
    await expect(page.locator(".toast.error")).to_contain_text("row 2: language")


async def test_music_is_chosen_or_uploaded_in_the_form_and_shorts_are_in_the_drawer(
    page: Page, client: httpx.AsyncClient, tmp_path
):
    # given the New video form with music uploaded from a file
    (tmp_path / "my-bed.wav").write_bytes(tone_wav(4.0))
    await page.click("#new-video")
    await page.fill("#f-title", "Own music")
    await page.fill("#f-brief", BRIEF)
    await page.uncheck("#f-auto")
    await expect(page.locator("#f-music option")).to_have_count(5)  # recipe's, none, three built in
    await page.set_input_files("#f-music-file", str(tmp_path / "my-bed.wav"))
    await expect(page.locator("#f-music option:checked")).to_have_text("my-bed.wav")
    # and a clip as its background, previewed playing
    await page.select_option("#f-visual", "manual_upload")
    await page.set_input_files("#f-images", str(_clip(tmp_path / "clip.mp4")))
    await expect(page.locator("#f-previews video")).to_be_visible()
    await page.click("#new-submit")
    await expect(card(page, "Own music", "A_FAZER")).to_be_visible()
    # then the job carries the upload's id, and the drawer names it
    listed = next(j for j in (await client.get("/api/v1/jobs")).json()["items"] if j["title"] == "Own music")
    music = (await client.get(f"/api/v1/jobs/{listed['id']}")).json()["options"]["music"]
    assert len(music) == 32
    await card(page, "Own music").click()
    await expect(page.locator("#d-panel select[name=music]")).to_have_value(music)
    await page.click('[data-tab="images"]')
    await expect(page.locator("#d-panel .gallery video")).to_be_visible()  # the clip, playing
    await page.click("#d-close")
    # given a finished job with built-in music and a short
    body = {
        "title": "Dark and short",
        "brief": LONG_BRIEF,
        "music": "dark",
        "shorts": 1,
        "start": "CONCLUIDO",
    }
    job = (await client.post("/api/v1/jobs", json=body)).json()
    assert (await wait_for_state(client, job["id"], ("DONE", "FAILED"), timeout=240))["state"] == "DONE"
    # then its drawer offers the short for download and names the music
    await card(page, "Dark and short").click()
    await expect(page.locator("#d-video a[download='short-1.mp4']")).to_be_visible()
    await page.click('[data-tab="info"]')
    await expect(page.locator("#d-panel .facts")).to_contain_text("Dark (built in)")
