"""A provider that is down, refuses, or fails once: the worker asks again (and says so in the job's
log), the next provider of the preset takes over on the last delivery (the offline writer after a
model; after Azure, the voice preset its `fallback` names), and every message says what really
happened.

The whole stack runs on a real nats-server, with three deliveries a work item and one second
between them; the model APIs are a local fake server spoken to by the real SDKs, and Azure is a
fake synthesizer behind the Speech SDK's interface, failing with the errors its cancellations become.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from services.tts import main as tts_service
from services.tts.azure import Synthesis, error_for
from shared import consumer
from shared.errors import StepError
from shared.natsserver import EmbeddedNats
from shared.settings import Settings
from tests.conftest import BRIEF, stack_settings, wait_for_state
from tests.fake_models import USAGE_IN, USAGE_OUT, USUAL, Broken, Failure, FakeModels
from tests.fake_speech import FakeSynthesizer
from tests.integration.test_script_providers import (
    scripted_job,
    step_metrics,
    use_provider,
    use_script_preset,
)
from vfo.stack import SERVICES, Stack

DELIVERIES = 3
KEY = "sk-ant-outage-test"


class OutageSynthesizer(FakeSynthesizer):
    """The fake Azure voice, failing with `down` on every request while it is set, and with each of
    `failures` once before that."""

    def __init__(self) -> None:
        super().__init__()
        self.down: StepError | None = None
        self.failures: list[StepError] = []
        self.calls = 0

    async def synthesize(self, ssml: str) -> Synthesis:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        if self.down is not None:
            raise self.down
        return await super().synthesize(ssml)


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(consumer, "BACKOFF_S", (1.0,) * 5)


@pytest.fixture
def settings(tmp_path: Path, nats_server: EmbeddedNats, database_url: str) -> Settings:
    return stack_settings(tmp_path, nats_server, database_url, max_deliver=DELIVERIES)


@pytest.fixture
def azure_voice() -> OutageSynthesizer:
    return OutageSynthesizer()


@pytest.fixture
async def stack(settings: Settings, azure_voice: OutageSynthesizer) -> AsyncIterator[Stack]:
    """The stack, its tts service built by the same composition root with the fake Azure voice."""
    async with Stack(settings, services=tuple(s for s in SERVICES if s != "tts")) as running:
        stop = asyncio.Event()
        tts = asyncio.create_task(tts_service.serve(running.settings, stop, neural=lambda: azure_voice))
        try:
            yield running
        finally:
            stop.set()
            await tts


@pytest.fixture
async def anthropic(
    client: httpx.AsyncClient, models: FakeModels, monkeypatch: pytest.MonkeyPatch
) -> FakeModels:
    """Claude first, then the offline draft (the shipped `script.auto`), the SDK asking only once."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    await use_provider(client, "anthropic", base_url=models.url, max_retries=0)
    return models


@pytest.fixture
def azure_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_SPEECH_KEY", "azure-outage-test")
    monkeypatch.setenv("AZURE_SPEECH_REGION", "westeurope")


async def narrated_job(client: httpx.AsyncClient) -> dict:
    body = {
        "title": "Why octopuses have three hearts",
        "brief": BRIEF,
        "voice_preset": "en-US-neural",
        "start": "NARRACAO",
        "auto_video": False,
    }
    response = await client.post("/api/v1/jobs", json=body)
    assert response.status_code == 201, response.text
    return await wait_for_state(client, response.json()["id"], ("TTS_DONE", "FAILED"), timeout=90)


def logged(job: dict, step: str) -> list[str]:
    """The messages of the step's progress events: what the job's log shows."""
    return [
        e["payload"].get("message", "")
        for e in job["events"]
        if e["type"] == "step_progress" and e["step"] == step
    ]


def retries(job: dict, step: str) -> list[str]:
    return [m for m in logged(job, step) if "trying again" in m]


def artifact(job: dict, name: str) -> dict:
    (found,) = [a for a in job["artifacts"] if a["name"] == name]
    return found


def assert_nothing_says_both(job: dict) -> None:
    """No event and no error says that the step will be tried again and that it was given up."""
    for said in [*(json.dumps(e["payload"]) for e in job["events"]), str(job.get("last_error"))]:
        assert "will be tried again" not in said, said
        assert not ("tried again" in said and "gave up" in said), said


async def test_a_model_that_is_down_is_asked_again_then_the_offline_writer_writes(
    client: httpx.AsyncClient, anthropic: FakeModels
):
    # given a model endpoint that answers 503 every time
    anthropic.script = [Failure(503)] * 10
    # when a script is asked for
    job = await scripted_job(client)
    # then it was asked once a delivery, each retry was in the job's log, and on the last delivery
    # the offline writer wrote the script, saying so
    assert job["state"] == "SCRIPT_DONE", job["last_error"]
    assert len(anthropic.requests) == DELIVERIES
    assert retries(job, "script") == [
        "Anthropic is busy (503); trying again in 1 s (try 2 of 3)",
        "Anthropic is busy (503); trying again in 1 s (try 3 of 3)",
    ]
    handed_over = "anthropic failed on try 3 of 3: Anthropic is busy (503)"
    assert f"{handed_over}; offline-draft writes the script instead" in logged(job, "script")
    # and the artifacts and the metrics are the offline writer's
    meta = artifact(job, "script.md")["metadata"]
    assert meta["generator"] == "offline-draft" and handed_over in meta["skipped"]
    assert artifact(job, "outline.json")["metadata"]["generator"] == "offline-draft"
    metrics = step_metrics(job)
    assert metrics["words"] > 0 and "model_calls" not in metrics
    assert_nothing_says_both(job)


async def test_a_model_that_fails_once_writes_the_script_on_the_next_delivery(
    client: httpx.AsyncClient, anthropic: FakeModels
):
    # given a model endpoint that answers 503 once, then as usual
    anthropic.script = [Failure(503)]
    # when a script is asked for
    job = await scripted_job(client)
    # then the retry is in the job's log and the model wrote the script, nobody else
    assert job["state"] == "SCRIPT_DONE", job["last_error"]
    assert retries(job, "script") == ["Anthropic is busy (503); trying again in 1 s (try 2 of 3)"]
    assert not [m for m in logged(job, "script") if "instead" in m]
    stages = [anthropic.stage_of(body) for _, _, body in anthropic.requests]
    assert stages == ["ideas", "ideas", "outline", "script", "metadata"]
    assert artifact(job, "outline.json")["metadata"]["generator"] == "anthropic"
    assert step_metrics(job)["model_calls"] == 4
    assert_nothing_says_both(job)


async def test_a_rejected_key_hands_over_at_once(client: httpx.AsyncClient, anthropic: FakeModels):
    # given a model endpoint that rejects the key
    anthropic.script = [Failure(401)]
    # when a script is asked for
    job = await scripted_job(client)
    # then the offline writer took over on the first delivery, saying why
    assert job["state"] == "SCRIPT_DONE", job["last_error"]
    assert len(anthropic.requests) == 1 and retries(job, "script") == []
    assert (
        "anthropic failed: the Anthropic key in ANTHROPIC_API_KEY was rejected (401); set a valid key; "
        "offline-draft writes the script instead"
    ) in logged(job, "script")
    assert artifact(job, "script.md")["metadata"]["generator"] == "offline-draft"


async def test_with_no_next_provider_the_step_fails_saying_it_gave_up(
    client: httpx.AsyncClient, anthropic: FakeModels
):
    # given a preset with only the model, which answers 503 every time
    await use_script_preset(client, ["anthropic"])
    anthropic.script = [Failure(503)] * 10
    # when a script is asked for
    job = await scripted_job(client)
    # then the step failed after every delivery, with the message of what happened
    assert job["state"] == "FAILED" and job["failed_step"] == "script"
    assert job["last_error"] == "Anthropic is busy (503) (gave up after 3 attempts)"
    assert len(anthropic.requests) == DELIVERIES and len(retries(job, "script")) == DELIVERIES - 1
    assert_nothing_says_both(job)


async def test_azure_that_is_down_is_asked_again_then_the_offline_voice_narrates(
    client: httpx.AsyncClient, azure_voice: OutageSynthesizer, azure_settings: None
):
    # given Azure Speech unavailable every time
    azure_voice.down = error_for("ServiceUnavailable", "")
    # when a narration with a neural voice is asked for
    job = await narrated_job(client)
    # then Azure was asked once a delivery, each retry was in the job's log, and on the last
    # delivery the language's offline voice narrated, saying so
    assert job["state"] == "TTS_DONE", job["last_error"]
    assert azure_voice.calls == DELIVERIES
    assert retries(job, "tts") == [
        "Azure Speech is unavailable (ServiceUnavailable); trying again in 1 s (try 2 of 3)",
        "Azure Speech is unavailable (ServiceUnavailable); trying again in 1 s (try 3 of 3)",
    ]
    handed_over = (
        "voice preset en-US-neural (azure en-US-AndrewMultilingualNeural) failed on try 3 of 3: "
        "Azure Speech is unavailable (ServiceUnavailable)"
    )
    assert f"{handed_over}; voice preset en-US (espeak-ng en-us) takes over" in logged(job, "tts")
    cues = artifact(job, "cues.json")
    assert cues["metadata"]["engine"] == "espeak-ng" and cues["metadata"]["voice"] == "en-us"
    assert cues["metadata"]["preset"] == "en-US" and cues["metadata"]["skipped"] == handed_over
    assert json.loads((await client.get(cues["url"])).text)["cues"]
    completed = [e for e in job["events"] if e["type"] == "step_completed" and e["step"] == "tts"]
    assert "cost_usd" not in completed[-1]["payload"]["metrics"]  # the offline voice is free
    assert_nothing_says_both(job)


async def test_azure_refusing_the_key_hands_over_to_the_offline_voice_at_once(
    client: httpx.AsyncClient, azure_voice: OutageSynthesizer, azure_settings: None
):
    # given Azure Speech rejecting the key
    azure_voice.down = error_for("AuthenticationFailure", "")
    # when a narration with a neural voice is asked for
    job = await narrated_job(client)
    # then the offline voice took over on the first delivery, saying why
    assert job["state"] == "TTS_DONE", job["last_error"]
    assert azure_voice.calls == 1 and retries(job, "tts") == []
    assert (
        "voice preset en-US-neural (azure en-US-AndrewMultilingualNeural) failed: the Azure Speech key "
        "in AZURE_SPEECH_KEY was rejected, or AZURE_SPEECH_REGION is not its region; check both; "
        "voice preset en-US (espeak-ng en-us) takes over"
    ) in logged(job, "tts")
    assert artifact(job, "cues.json")["metadata"]["engine"] == "espeak-ng"


async def test_azure_failing_once_narrates_on_the_next_delivery(
    client: httpx.AsyncClient, azure_voice: OutageSynthesizer, azure_settings: None
):
    # given Azure Speech timing out once, then answering
    azure_voice.failures = [error_for("ServiceTimeout", "")]
    # when a narration with a neural voice is asked for
    job = await narrated_job(client)
    # then the retry is in the job's log and the neural voice narrated
    assert job["state"] == "TTS_DONE", job["last_error"]
    assert retries(job, "tts") == [
        "Azure Speech is unavailable (ServiceTimeout); trying again in 1 s (try 2 of 3)"
    ]
    assert not [m for m in logged(job, "tts") if "takes over" in m]
    cues = artifact(job, "cues.json")
    assert cues["metadata"]["engine"] == "azure" and "skipped" not in cues["metadata"]
    assert cues["metadata"]["preset"] == "en-US-neural"
    completed = [e for e in job["events"] if e["type"] == "step_completed" and e["step"] == "tts"]
    assert completed[-1]["payload"]["metrics"]["cost_usd"] > 0
    assert_nothing_says_both(job)


async def save_voice(client: httpx.AsyncClient, name: str, **fields: object) -> None:
    """Create or change the voice preset `voice.<name>` (a change keeps its other fields)."""
    found = await client.get(f"/api/v1/registry/presets/voice.{name}")
    if found.status_code == 200:
        response = await client.put(
            f"/api/v1/registry/presets/voice.{name}", json=found.json()["data"] | fields
        )
    else:
        response = await client.post("/api/v1/registry/presets", json={"slug": f"voice.{name}", **fields})
    assert response.status_code in (200, 201), response.text


async def test_the_fallback_a_preset_names_takes_over_and_the_log_names_it(
    client: httpx.AsyncClient, azure_voice: OutageSynthesizer, azure_settings: None
):
    # given a neural preset whose fallback is a slower offline voice of its own, and Azure refusing
    await save_voice(client, "en-US-slow", voice="en-us", rate_wpm=120)
    await save_voice(client, "en-US-neural", fallback="en-US-slow")
    azure_voice.down = error_for("BadRequest", "the SSML is not valid")
    # when a narration with the neural preset is asked for
    job = await narrated_job(client)
    # then that preset narrated, at once, and the job's log says which one and why
    assert job["state"] == "TTS_DONE", job["last_error"]
    assert azure_voice.calls == 1 and retries(job, "tts") == []
    assert (
        "voice preset en-US-neural (azure en-US-AndrewMultilingualNeural) failed: Azure Speech refused "
        "the narration: the SSML is not valid; voice preset en-US-slow (espeak-ng en-us) takes over"
    ) in logged(job, "tts")
    meta = artifact(job, "cues.json")["metadata"]
    assert (meta["preset"], meta["engine"], meta["voice"]) == ("en-US-slow", "espeak-ng", "en-us")
    # and the job's snapshot holds the chain it ran with, with versions
    assert [v["slug"] for v in job["config"]["voice_fallbacks"]] == ["en-US-slow"]
    assert "preset.voice.en-US-slow" in job["config"]["versions"]


async def test_a_chain_of_fallbacks_is_walked_to_the_first_voice_that_narrates(
    client: httpx.AsyncClient, azure_voice: OutageSynthesizer, azure_settings: None
):
    # given en-US-neural -> en-US-neural-2 (another Azure voice) -> en-US, and Azure down
    await save_voice(
        client,
        "en-US-neural-2",
        engine="azure",
        voice="en-US-AvaMultilingualNeural",
        ssml_preset="stage-directions",
        fallback="en-US",
    )
    await save_voice(client, "en-US-neural", fallback="en-US-neural-2")
    azure_voice.down = error_for("ServiceUnavailable", "")
    # when a narration is asked for
    job = await narrated_job(client)
    # then each Azure voice was asked on the last delivery before the offline one took over
    assert job["state"] == "TTS_DONE", job["last_error"]
    assert azure_voice.calls == DELIVERIES + 1
    took_over = [m for m in logged(job, "tts") if "takes over" in m]
    assert took_over == [
        "voice preset en-US-neural (azure en-US-AndrewMultilingualNeural) failed on try 3 of 3: Azure "
        "Speech is unavailable (ServiceUnavailable); voice preset en-US-neural-2 (azure "
        "en-US-AvaMultilingualNeural) takes over",
        "voice preset en-US-neural-2 (azure en-US-AvaMultilingualNeural) failed on try 3 of 3: Azure "
        "Speech is unavailable (ServiceUnavailable); voice preset en-US (espeak-ng en-us) takes over",
    ]
    assert artifact(job, "cues.json")["metadata"]["preset"] == "en-US"
    assert_nothing_says_both(job)


async def test_a_preset_with_no_fallback_fails_the_step_saying_only_what_happened(
    client: httpx.AsyncClient, azure_voice: OutageSynthesizer, azure_settings: None
):
    # given a neural preset with no fallback, and Azure down every time
    await save_voice(client, "en-US-neural", fallback=None)
    azure_voice.down = error_for("ServiceUnavailable", "")
    # when a narration is asked for
    job = await narrated_job(client)
    # then the step failed after every delivery, and nothing says another voice took over
    assert job["state"] == "FAILED" and job["failed_step"] == "tts"
    assert job["last_error"] == "Azure Speech is unavailable (ServiceUnavailable) (gave up after 3 attempts)"
    assert azure_voice.calls == DELIVERIES and len(retries(job, "tts")) == DELIVERIES - 1
    assert not [m for m in logged(job, "tts") if "takes over" in m]
    assert_nothing_says_both(job)


async def test_without_azure_settings_the_fallback_narrates_and_with_none_the_step_says_why(
    client: httpx.AsyncClient, azure_voice: OutageSynthesizer
):
    # given no Azure key or region on this host
    # when a narration with the neural preset is asked for
    job = await narrated_job(client)
    # then its fallback narrated, and the log says why, without asking Azure
    assert job["state"] == "TTS_DONE", job["last_error"]
    assert azure_voice.calls == 0
    assert (
        "voice preset en-US-neural (azure en-US-AndrewMultilingualNeural) is skipped: AZURE_SPEECH_KEY "
        "and AZURE_SPEECH_REGION are not set; voice preset en-US (espeak-ng en-us) takes over"
    ) in logged(job, "tts")
    # and without a fallback the step fails at once, saying what to do
    await save_voice(client, "en-US-neural", fallback=None)
    job = await narrated_job(client)
    assert job["state"] == "FAILED" and azure_voice.calls == 0
    assert job["last_error"] == (
        "voice preset en-US-neural (azure en-US-AndrewMultilingualNeural) cannot narrate here: "
        "AZURE_SPEECH_KEY and AZURE_SPEECH_REGION are not set; set them, or give the voice preset a fallback"
    )


# Claude's prices for the shipped prompts' model (claude-sonnet-5-5): $2 / $10 a million tokens
def dollars(tokens_in: int, tokens_out: int) -> float:
    return (tokens_in * 2 + tokens_out * 10) / 1e6


def spent(metrics: dict[str, float]) -> tuple[float, float, float]:
    return metrics["input_tokens"], metrics["output_tokens"], metrics["model_calls"]


async def test_what_a_provider_spent_before_it_was_refused_is_counted(
    client: httpx.AsyncClient, anthropic: FakeModels
):
    # given Claude writing the ideas and the outline, then rejecting the key for the script
    anthropic.script = [USUAL["ideas"], USUAL["outline"], Failure(401)]
    # when a script is asked for
    job = await scripted_job(client)
    # then the offline writer wrote it, and the metrics count the two answers Claude was paid for
    assert job["state"] == "SCRIPT_DONE", job["last_error"]
    assert artifact(job, "script.md")["metadata"]["generator"] == "offline-draft"
    metrics = step_metrics(job)
    assert spent(metrics) == (2 * USAGE_IN, 2 * USAGE_OUT, 2)
    assert metrics["cost_usd"] == pytest.approx(dollars(2 * USAGE_IN, 2 * USAGE_OUT))


async def test_answers_bought_before_the_work_item_came_back_are_counted_once(
    client: httpx.AsyncClient, anthropic: FakeModels
):
    # given Claude busy once, after it wrote the ideas and the outline
    anthropic.script = [USUAL["ideas"], USUAL["outline"], Failure(503)]
    # when a script is asked for
    job = await scripted_job(client)
    # then the next delivery reused the two answers (paid once) and Claude wrote the rest
    assert job["state"] == "SCRIPT_DONE", job["last_error"]
    stages = [anthropic.stage_of(body) for _, _, body in anthropic.requests]
    assert stages == ["ideas", "outline", "script", "script", "metadata"]
    assert len([m for m in logged(job, "script") if "reused from an earlier attempt" in m]) == 2
    # and the metrics count the four answers bought, over both deliveries
    metrics = step_metrics(job)
    assert spent(metrics) == (4 * USAGE_IN, 4 * USAGE_OUT, 4)
    assert metrics["cost_usd"] == pytest.approx(dollars(4 * USAGE_IN, 4 * USAGE_OUT))
    assert "spend.json" not in [a["name"] for a in job["artifacts"]]  # every answer was kept


async def test_answers_cut_off_on_every_delivery_are_counted_when_the_next_provider_writes(
    client: httpx.AsyncClient, anthropic: FakeModels
):
    # given Claude's answer cut off by an overloaded_error every time, after its stream began
    anthropic.script = [Broken()] * DELIVERIES
    # when a script is asked for
    job = await scripted_job(client)
    # then it was asked again on each delivery, and on the last the offline writer wrote
    assert job["state"] == "SCRIPT_DONE", job["last_error"]
    assert len(retries(job, "script")) == DELIVERIES - 1
    assert artifact(job, "script.md")["metadata"]["generator"] == "offline-draft"
    # and the tokens each cut-off answer had used (its message_start: USAGE_IN in, 1 out) are counted,
    # the earlier deliveries' carried in the step's ledger
    metrics = step_metrics(job)
    assert spent(metrics) == (DELIVERIES * USAGE_IN, DELIVERIES * 1, DELIVERIES)
    assert metrics["cost_usd"] == pytest.approx(dollars(DELIVERIES * USAGE_IN, DELIVERIES))
    ledger = artifact(job, "spend.json")["metadata"]
    assert (ledger["input_tokens"], ledger["calls"]) == ((DELIVERIES - 1) * USAGE_IN, DELIVERIES - 1)
    assert_nothing_says_both(job)


async def test_an_attempt_that_fails_says_what_it_spent(client: httpx.AsyncClient, anthropic: FakeModels):
    # given only Claude, which writes the ideas, then rejects the key
    await use_script_preset(client, ["anthropic"])
    anthropic.script = [USUAL["ideas"], Failure(401)]
    # when a script is asked for
    job = await scripted_job(client)
    # then the step failed, and the job's log says what the attempt had spent
    assert job["state"] == "FAILED" and "was rejected (401)" in job["last_error"]
    cost = dollars(USAGE_IN, USAGE_OUT)
    said = (
        f"this attempt spent {USAGE_IN} → {USAGE_OUT} tokens in 1 model call (≈ ${cost:.4f}) before it failed"
    )
    assert said in logged(job, "script")
    assert_nothing_says_both(job)
