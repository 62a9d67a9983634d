"""Composition root of the tts service: `vfo run tts`."""

from __future__ import annotations

import asyncio

from services.tts.espeak import EspeakEngine
from services.tts.handler import NarrationStep
from shared import runtime
from shared.pipeline import PIPELINE, Step
from shared.settings import Settings


async def serve(settings: Settings, stop: asyncio.Event) -> None:
    async with runtime.connected(settings, "tts") as bus:
        worker = runtime.step_worker(settings, bus, PIPELINE.spec(Step.TTS), NarrationStep(EspeakEngine()))
        await worker.run(stop)
