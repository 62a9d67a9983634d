"""The script studio in the browser (issue 14): a person edits the script at its pause, sees the
diff, restores a version, marks a scene, approves, and gets a video whose narration and captions
say the edited words."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator

import httpx
import pytest
from playwright.async_api import Page, expect

from services.tts import main as tts_main
from shared.settings import Settings
from tests.browser.conftest import screenshot
from tests.browser.test_board_ui import card
from tests.conftest import BRIEF, wait_for_state
from tests.integration.test_rerecord import CountingSpeech
from tests.subtitle_text import subtitle_text
from vfo.stack import Serve, Stack, service_entry

EDITED = "A purple lighthouse blinked twice over the harbour."
REWRITTEN = "The keeper wrote the second part again, in one sentence."


@pytest.fixture
def speech() -> CountingSpeech:
    return CountingSpeech()


@pytest.fixture
async def stack(settings: Settings, speech: CountingSpeech) -> AsyncIterator[Stack]:
    """The stack, its narration worker speaking through `speech` (which counts what it says)."""

    def entry(name: str) -> Serve:
        return functools.partial(tts_main.serve, speech=speech) if name == "tts" else service_entry(name)

    async with Stack(settings, entry=entry) as running:
        yield running


async def test_edit_diff_restore_re_record_approve_and_the_video_says_the_edits(
    page: Page, client: httpx.AsyncClient, speech: CountingSpeech
):
    # given a job waiting for its script's review
    body = {"title": "Lighthouse", "brief": BRIEF, "start": "ROTEIRO", "auto_video": False}
    job = (await client.post("/api/v1/jobs", json=body)).json()
    await wait_for_state(client, job["id"], ("SCRIPT_DONE",))
    await card(page, "Lighthouse").click()
    await page.click('[data-tab="script"]')
    await expect(page.locator(".studio-head")).to_have_text("Version 1")
    # (in Portuguese too)
    await page.click('[data-ui-lang="pt-BR"]')
    await page.click('[data-tab="script"]')
    await expect(page.locator("#studio-save")).to_have_text("Salvar como nova versão")
    await expect(page.locator(".studio-scenes legend")).to_have_text("Marcadores de cena")
    await screenshot(page, "script-studio-pt")
    await page.click('[data-ui-lang="en"]')
    await page.click('[data-tab="script"]')
    await expect(page.locator("#studio-save")).to_have_text("Save as a new version")
    # when the person writes a new first sentence and saves
    text = page.locator('[name="text-0"]')
    original = await text.input_value()
    await text.fill(f"{EDITED} {original}")
    await page.click("#studio-save")
    # then it is version 2, and its first sentence is the edit
    await expect(page.locator(".studio-head")).to_have_text("Version 2")
    await expect(page.locator('.scene-list li[data-sentence="1"]')).to_contain_text(EDITED)
    # when a scene marker is put on sentence 2 and moved one sentence later, then saved
    await page.check('.scene-list input[data-sentence="2"]')
    await page.click(
        '.scene-list li[data-sentence="2"] button[aria-label="Move this marker one sentence later"]'
    )
    await expect(page.locator('.scene-list input[data-sentence="3"]')).to_be_checked()
    await page.click("#studio-save")
    await expect(page.locator(".studio-head")).to_have_text("Version 3")
    await expect(page.locator(".scene-list li.marked")).to_have_count(1)
    # when the person compares version 1 with the current one
    await page.click('.versions li[data-version="1"] .compare')
    diff = page.locator("#studio-diff")
    await expect(diff.locator("h4")).to_have_text("Changes from v1 to v3")
    await expect(diff.locator(".diff-added").first).to_contain_text(EDITED)
    await expect(diff.locator(".diff-added", has_text="[scene]")).to_have_count(1)
    await screenshot(page, "script-studio-diff")
    # when version 1 is restored, the edit is gone; restoring version 3 brings it back
    await page.click('.versions li[data-version="1"] .restore')
    await expect(page.locator(".studio-head")).to_have_text("Version 4")
    await expect(page.locator('[name="text-0"]')).to_have_value(original)
    await page.click('.versions li[data-version="3"] .restore')
    await expect(page.locator(".studio-head")).to_have_text("Version 5")
    await expect(page.locator('[name="text-0"]')).to_have_value(f"{EDITED} {original}")
    # when a heading is typed but not saved, approving asks first, and "keep editing" keeps it
    await page.fill('[name="heading-0"]', "Not saved yet")
    await page.click("#studio-approve")
    await expect(page.locator("#confirm-text")).to_contain_text("not saved")
    await page.click("#confirm-no")
    await expect(page.locator('[name="heading-0"]')).to_have_value("Not saved yet")
    assert (await client.get(f"/api/v1/jobs/{job['id']}")).json()["state"] == "SCRIPT_DONE"
    # when the script is approved without it, the narration is recorded and waits for its review
    await page.click("#studio-approve")
    await page.click("#confirm-yes")
    await wait_for_state(client, job["id"], ("TTS_DONE",))
    await page.click('[data-tab="audio"]')
    await expect(page.locator('.narration-section[data-section="1"] .cues li').first).to_contain_text(EDITED)
    await screenshot(page, "narration-review")
    # when section 2 is written again in the narration review and re-recorded
    speech.said.clear()
    await page.fill('.narration-section[data-section="2"] textarea', REWRITTEN)
    await page.click("#rerecord-2")
    await expect(page.locator(".toast", has_text="Re-recording section 2")).to_be_visible()
    await wait_for_state(client, job["id"], ("TTS_DONE",))
    # then only that section was synthesized again, and the review shows it
    assert speech.said == [(REWRITTEN, "en-us")]
    await expect(page.locator('.narration-section[data-section="2"] .cues li')).to_have_count(1)
    await expect(page.locator('.narration-section[data-section="2"] .cues li')).to_contain_text(REWRITTEN)
    # when the narration is approved too
    await page.click("#narration-approve")
    done = await wait_for_state(client, job["id"], ("DONE",), timeout=300)
    # then the video's narration and captions say the edited words
    assert done["state"] == "DONE"
    cues = (await client.get(f"/api/v1/jobs/{job['id']}/artifacts/cues.json")).json()
    assert cues["cues"][1]["text"] == EDITED
    captions = (await client.get(f"/api/v1/jobs/{job['id']}/artifacts/subtitles.vtt")).text
    assert EDITED in subtitle_text(captions) and REWRITTEN in subtitle_text(captions)
    outline = (await client.get(f"/api/v1/jobs/{job['id']}/artifacts/outline.json")).json()
    assert outline["scenes"] == [3]
    video = (await client.get(f"/api/v1/jobs/{job['id']}")).json()
    meta = next(a for a in video["artifacts"] if a["name"] == "video.mp4")["metadata"]
    assert abs(meta["duration_s"] - cues["duration"]) < 0.5
    await expect(page.locator("#d-video video")).to_be_visible()
    # and the Audio tab plays the narration as re-recorded, not a copy the browser kept
    await page.click('[data-tab="audio"]')
    duration = (
        "a => a.readyState >= 1 ? a.duration : new Promise(r => a.onloadedmetadata = () => r(a.duration))"
    )
    heard = await page.locator("#d-panel audio").evaluate(duration)
    assert abs(heard - cues["duration"]) < 0.1
    await screenshot(page, "script-studio-done")
