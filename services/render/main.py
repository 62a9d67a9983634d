"""Composition root of the render service: `vfo run render`.

The host joins the pools in `VFO_RENDER_POOL` (comma-separated) and `any`."""

from __future__ import annotations

import asyncio

from services.render.ffmpeg import FFmpeg, ffmpeg_binary
from services.render.handler import RenderStep
from shared import runtime
from shared.pipeline import PIPELINE, Step
from shared.settings import Settings


async def serve(settings: Settings, stop: asyncio.Event) -> None:
    ffmpeg = FFmpeg(ffmpeg_binary(settings.ffmpeg_path), settings.vaapi_device)
    step = RenderStep(ffmpeg, settings.font_path)
    async with runtime.connected(settings, "render") as bus:
        worker = runtime.step_worker(
            settings, bus, PIPELINE.spec(Step.RENDER), step, pools=settings.render_pools
        )
        await worker.run(stop)
