"""Re-recording one section at the narration's review (issue 14): only that section is synthesized
again; every other section's audio is the one kept from the first recording."""

from __future__ import annotations

import functools
import io
import wave
from collections.abc import AsyncIterator

import httpx
import pytest

from services.tts import main as tts_main
from services.tts.espeak import EspeakEngine, Spoken
from shared.settings import Settings
from tests.conftest import BRIEF, admin_key, bearer, wait_for_state
from vfo.stack import Serve, Stack, service_entry

NEW_TEXT = "A brand new middle, recorded on its own."


class CountingSpeech:
    """The offline voice, remembering every sentence it was asked to say (and in which voice)."""

    def __init__(self) -> None:
        self.engine = EspeakEngine()
        self.said: list[tuple[str, str]] = []

    async def speak(self, text: str, voice: str, rate_wpm: int = 165, pitch: int = 45) -> Spoken:
        self.said.append((text, voice))
        return await self.engine.speak(text, voice, rate_wpm, pitch)


@pytest.fixture
def speech() -> CountingSpeech:
    return CountingSpeech()


@pytest.fixture
async def counted(settings: Settings, speech: CountingSpeech) -> AsyncIterator[httpx.AsyncClient]:
    """A stack whose narration worker speaks through `speech`."""

    def entry(name: str) -> Serve:
        return functools.partial(tts_main.serve, speech=speech) if name == "tts" else service_entry(name)

    async with (
        Stack(settings, entry=entry) as running,
        httpx.AsyncClient(base_url=running.board_url, headers=bearer(admin_key(running)), timeout=30) as http,
    ):
        yield http


async def narrated(client: httpx.AsyncClient) -> str:
    """A job waiting for its narration's review."""
    body = {"title": "Recorded", "brief": BRIEF, "start": "NARRACAO", "auto_video": False}
    job = (await client.post("/api/v1/jobs", json=body)).json()
    await wait_for_state(client, job["id"], ("TTS_DONE",))
    return str(job["id"])


async def artifacts(client: httpx.AsyncClient, job_id: str) -> dict[str, dict]:
    job = (await client.get(f"/api/v1/jobs/{job_id}")).json()
    return {a["name"]: a for a in job["artifacts"]}


async def test_re_recording_one_section_synthesizes_only_that_section(
    counted: httpx.AsyncClient, speech: CountingSpeech
):
    # given a job waiting for its narration's review, every section said once
    client = counted
    job_id = await narrated(client)
    script = (await client.get(f"/api/v1/jobs/{job_id}/script")).json()["script"]
    assert [text for text, _ in speech.said] == [s["text"] for s in script["sentences"]]
    before = await artifacts(client, job_id)
    sections = len(script["sections"])
    assert {f"section-{n}.wav" for n in range(sections + 1)} <= before.keys()
    first_cues = (await client.get(f"/api/v1/jobs/{job_id}/artifacts/cues.json")).json()
    speech.said.clear()
    # when section 2 is re-recorded with new text
    answer = await client.post(f"/api/v1/jobs/{job_id}/narration/sections/2", json={"paragraphs": [NEW_TEXT]})
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "TTS_RUNNING"
    await wait_for_state(client, job_id, ("TTS_DONE",))
    # then only its sentence was synthesized, and the narration says it where section 2 was
    assert speech.said == [(NEW_TEXT, "en-us")]
    after = await artifacts(client, job_id)
    changed = {
        n
        for n in range(sections + 1)
        if after[f"section-{n}.wav"]["sha256"] != before[f"section-{n}.wav"]["sha256"]
    }
    assert changed == {2}
    cues = (await client.get(f"/api/v1/jobs/{job_id}/artifacts/cues.json")).json()
    assert [c["text"] for c in cues["cues"] if c["section"] == 2] == [NEW_TEXT]
    kept = [(c["text"], c["start"], c["end"]) for c in cues["cues"] if c["section"] < 2]
    assert kept == [(c["text"], c["start"], c["end"]) for c in first_cues["cues"] if c["section"] < 2]
    narration = (await client.get(f"/api/v1/jobs/{job_id}/artifacts/narration.wav")).content
    with wave.open(io.BytesIO(narration)) as wav:
        assert abs(wav.getnframes() / wav.getframerate() - cues["duration"]) < 0.01
    assert cues["cues"][-1]["end"] <= cues["duration"] + 0.002  # (timings are in ms)
    speech.said.clear()
    # when section 3 is re-recorded with another voice preset (its text unchanged)
    third = [
        s["text"]
        for s in (await client.get(f"/api/v1/jobs/{job_id}/script")).json()["script"]["sentences"]
        if s["section"] == 3
    ]
    answer = await client.post(f"/api/v1/jobs/{job_id}/narration/sections/3", json={"voice_preset": "pt-BR"})
    assert answer.status_code == 200, answer.text
    await wait_for_state(client, job_id, ("TTS_DONE",))
    # then only section 3's sentences were said again, in that voice
    assert speech.said == [(text, "pt-br") for text in third]
    now = (await client.get(f"/api/v1/jobs/{job_id}/script")).json()
    assert [s["voice_preset"] for s in now["script"]["sections"]][1:3] == [None, "pt-BR"]
    assert [v["section"] for v in now["versions"]] == [None, 2, 3]
    # and re-recording it the same way again is refused: nothing would change
    same = await client.post(f"/api/v1/jobs/{job_id}/narration/sections/3", json={"voice_preset": "pt-BR"})
    assert same.status_code == 422 and "nothing changed in section 3" in same.json()["message"]
    unknown = await client.post(f"/api/v1/jobs/{job_id}/narration/sections/9", json={"voice_preset": "pt-BR"})
    assert unknown.status_code == 404 and "the script has sections 1-" in unknown.json()["message"]


async def test_an_edit_the_narration_does_not_read_is_not_narrated_again(
    counted: httpx.AsyncClient, speech: CountingSpeech
):
    # given a job waiting for its narration's review
    client = counted
    job_id = await narrated(client)
    answer = (await client.get(f"/api/v1/jobs/{job_id}/script")).json()
    speech.said.clear()
    # when only the publishing metadata is edited there
    body = {
        "base_version": answer["version"],
        "script": {
            "sections": answer["script"]["sections"],
            "metadata": {"title": "Published as", "description": "", "tags": ["x"]},
        },
    }
    assert (await client.put(f"/api/v1/jobs/{job_id}/script", json=body)).status_code == 200
    job = await wait_for_state(client, job_id, ("TTS_DONE",))
    # then the narration step is skipped (same inputs), and nothing was said again
    skipped = [e for e in job["events"] if e["type"] == "step_skipped"]  # type: ignore[union-attr]
    assert [e["step"] for e in skipped] == ["tts"] and speech.said == []
