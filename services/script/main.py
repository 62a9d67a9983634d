"""Composition root of the script service: `vfo run script`."""

from __future__ import annotations

import asyncio

from services.script.handler import ScriptStep
from shared import runtime
from shared.pipeline import PIPELINE, Step
from shared.settings import Settings


async def serve(settings: Settings, stop: asyncio.Event) -> None:
    async with runtime.connected(settings, "script") as bus:
        worker = runtime.step_worker(settings, bus, PIPELINE.spec(Step.SCRIPT), ScriptStep())
        await worker.run(stop)
