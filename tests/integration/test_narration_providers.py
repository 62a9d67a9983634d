"""The narration step with a neural voice preset: Azure (a fake synthesizer behind the SDK's
interface) when its key and region are set, its fallback (the language's offline voice) when they are
not."""

from __future__ import annotations

import json

import httpx
import pytest

from services.tts.espeak import EspeakEngine
from services.tts.handler import NarrationStep
from shared.eventstore import EventStore
from tests.conftest import BRIEF, wait_for_state
from tests.fake_speech import FakeSynthesizer
from tests.integration.harness import events_of, new_job, run_step


async def test_a_neural_preset_narrates_through_the_synthesizer_with_word_cues_and_cost(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
):
    canary = "azure-key-CANARY-4f1c"
    monkeypatch.setenv("AZURE_SPEECH_KEY", canary)
    monkeypatch.setenv("AZURE_SPEECH_REGION", "westeurope")
    fake = FakeSynthesizer()
    job_id = await new_job(store, "Neural voice", voice="en-US-neural")
    await run_step(store, job_id, "script")
    await run_step(store, job_id, "tts", handler=NarrationStep(EspeakEngine(), neural=lambda: fake))
    state = (await store.load(job_id)).state
    assert (state.state is not None and state.state.value == "RENDER_READY") or state.step(
        "tts"
    ).status == "completed"
    cues_ref = state.artifacts["cues.json"]
    assert (
        cues_ref.metadata["engine"] == "azure"
        and cues_ref.metadata["voice"] == "en-US-AndrewMultilingualNeural"
    )
    assert fake.requests and 'name="en-US-AndrewMultilingualNeural"' in fake.requests[0]
    assert 'style="narration-relaxed"' in fake.requests[0]
    completed = [
        e for _, e in await events_of(store, job_id) if e.type == "step_completed" and e.step == "tts"
    ]
    metrics = completed[-1].metrics
    assert metrics["characters"] > 100 and metrics["cost_usd"] == pytest.approx(metrics["characters"] * 15e-6)


async def test_without_azure_settings_the_offline_voice_narrates_and_says_why(client: httpx.AsyncClient):
    body = {
        "title": "No key",
        "brief": BRIEF,
        "voice_preset": "en-US-neural",
        "start": "NARRACAO",
        "auto_video": False,
    }
    job = (await client.post("/api/v1/jobs", json=body)).json()
    job = await wait_for_state(client, job["id"], ("TTS_DONE", "FAILED"))
    assert job["state"] == "TTS_DONE", job["last_error"]
    (cues,) = [a for a in job["artifacts"] if a["name"] == "cues.json"]
    assert cues["metadata"]["engine"] == "espeak-ng" and cues["metadata"]["voice"] == "en-us"
    assert "AZURE_SPEECH_KEY and AZURE_SPEECH_REGION are not set" in cues["metadata"]["skipped"]
    logged = [e["payload"].get("message", "") for e in job["events"] if e["type"] == "step_progress"]
    assert any(
        m.startswith("voice preset en-US-neural (azure en-US-AndrewMultilingualNeural) is skipped")
        for m in logged
    )
    assert json.loads((await client.get(cues["url"])).text)["cues"]
