"""Composition root of the tts service: `vfo run tts`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from services.tts import azure
from services.tts.espeak import EspeakEngine
from services.tts.handler import NarrationStep
from services.tts.narrate import Speech
from shared import runtime
from shared.pipeline import PIPELINE, Step
from shared.settings import Settings


async def serve(
    settings: Settings,
    stop: asyncio.Event,
    neural: Callable[[], azure.Synthesizer] = azure.AzureSynthesizer,
    speech: Speech | None = None,
) -> None:
    """Serve the narration step; `neural` makes the neural voice's synthesizer (tests pass a fake:
    the Speech SDK cannot be pointed at a local server), `speech` is the offline voice (tests
    count what it says)."""
    async with runtime.connected(settings, "tts") as bus:
        step = NarrationStep(speech or EspeakEngine(), neural=neural)
        worker = runtime.step_worker(settings, bus, PIPELINE.spec(Step.TTS), step)
        await worker.run(stop)
