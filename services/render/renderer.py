"""The renderer: narration, cues and backgrounds in, video + thumbnail + subtitles out.

How it is fast: every distinct picture (background + caption) is painted once and encoded once, as
one IDR frame; each segment that shows it is that frame followed by skip frames (`skipframes`: a
P picture that copies the previous one, a few bytes, never encoded). The timeline is the
byte-concatenation of those pieces, muxed with the AAC narration without re-encoding. Pictures
encode in parallel, one FFmpeg per core, while the audio encodes. (A hardware encoder's pieces are
encoded whole: a one-second piece per picture, repeated, and a remainder.)
"""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from services.render import skipframes
from services.render.ffmpeg import FFmpeg
from services.render.paint import Painter
from services.render.plan import TITLE_CARD, RenderPlan, plan_render
from shared.config import VideoPreset
from shared.cues import Cues
from shared.errors import PermanentError
from shared.worker import Progress

Piece = tuple[int, int]  # (still index, frames)


@dataclass(frozen=True)
class RenderInputs:
    title: str
    cues: Cues
    narration: Path
    backgrounds: list[Path]  # pictures of the video's size, as files (read when needed, not held)
    video: VideoPreset


@dataclass(frozen=True)
class RenderOutput:
    video: Path
    thumbnail: Path
    srt: Path
    vtt: Path
    seconds: float
    stills: int
    encoder: str = "libx264"
    fallback: str | None = None  # why the preset's encoder did not render, when it did not


def _concatenate(parts: list[Path], out: Path) -> None:
    with out.open("wb") as sink:
        for part in parts:
            with part.open("rb") as source:
                shutil.copyfileobj(source, sink, 1 << 20)


class Renderer:
    def __init__(self, ffmpeg: FFmpeg, painter: Painter, parallel: int | None = None) -> None:
        self.ffmpeg = ffmpeg
        self.painter = painter
        self.parallel = parallel or os.cpu_count() or 2

    async def render(self, inputs: RenderInputs, workdir: Path, progress: Progress) -> RenderOutput:
        video = inputs.video
        plan = plan_render(inputs.cues, video.fps, len(inputs.backgrounds), video.title_card_s)
        await progress(5, f"rendering {plan.total_frames} frames")
        audio = workdir / "narration.m4a"
        audio_task = asyncio.create_task(self._audio(inputs.narration, audio, video.audio_bitrate))
        try:
            encoder, fallback = await self.ffmpeg.choose_encoder(video.encoder)
            try:
                card, order = await self._encode(inputs, plan, workdir, progress, encoder)
            except PermanentError as err:
                if encoder == "libx264":
                    raise
                # the hardware encoder failed mid-render: every piece again with libx264 (pieces
                # are byte-concatenated, so they must all come from one encoder)
                fallback = f"{encoder} failed ({err.message[:120]})"
                await progress(5, f"{fallback}; rendering with libx264", log=True)
                shutil.rmtree(workdir / "pieces", ignore_errors=True)
                encoder = "libx264"
                card, order = await self._encode(inputs, plan, workdir, progress, encoder)
            h264 = workdir / "video.h264"
            await asyncio.to_thread(_concatenate, order, h264)
            await audio_task
        finally:
            audio_task.cancel()
        mp4 = workdir / "video.mp4"
        await self.ffmpeg.run(self.ffmpeg.mux_args(h264, audio, video.fps, mp4))
        thumbnail = workdir / "thumbnail.jpg"
        size = (720, 1280) if video.height > video.width else (1280, 720)
        await asyncio.to_thread(lambda: self.painter.thumbnail(card, size).save(thumbnail, quality=90))
        srt, vtt = workdir / "subtitles.srt", workdir / "subtitles.vtt"
        srt.write_text(inputs.cues.to_srt(), encoding="utf-8")
        vtt.write_text(inputs.cues.to_vtt(), encoding="utf-8")
        seconds = plan.total_frames / video.fps
        return RenderOutput(mp4, thumbnail, srt, vtt, seconds, len(plan.stills()), encoder, fallback)

    async def _audio(self, wav: Path, out: Path, bitrate: str) -> None:
        """The narration as AAC, normalised to -14 LUFS integrated (EBU R128)."""
        gain = await self.ffmpeg.loudness_gain(wav)
        await self.ffmpeg.run(self.ffmpeg.audio_args(wav, out, bitrate, gain))

    def _still(self, frames: int, out: Path, video: VideoPreset, encoder: str) -> list[str]:
        size = (video.width, video.height)
        return self.ffmpeg.still_args(
            size, frames, video.fps, out, video.crf, video.x264_preset, video.bitrate, encoder
        )

    async def _encode(
        self, inputs: RenderInputs, plan: RenderPlan, workdir: Path, progress: Progress, encoder: str
    ) -> tuple[Image.Image, list[Path]]:
        """Encode every piece the timeline needs; returns the title card and the pieces in order."""
        video = inputs.video
        stills = plan.stills()
        index_of = {key: n for n, key in enumerate(stills)}
        # libx264: one encoded picture per still, repeated by skip frames (one piece per segment);
        # other encoders: a one-second piece per still, repeated, and a remainder
        repeat = encoder == "libx264"
        unit = video.fps
        sequence: list[Piece] = []
        for segment in plan.segments:
            still = index_of[(segment.background, segment.caption)]
            if repeat:
                sequence.append((still, segment.frames))
            else:
                whole, rest = divmod(segment.frames, unit)
                sequence += [(still, unit)] * whole + ([(still, rest)] if rest else [])
        needed: dict[int, set[int]] = {}
        for still, frames in sequence:
            needed.setdefault(still, set()).add(frames)

        @functools.lru_cache(maxsize=self.parallel + 1)  # consecutive stills mostly share a background
        def background_of(index: int) -> Image.Image:
            with Image.open(inputs.backgrounds[index]) as image:
                return image.convert("RGB")

        card = await asyncio.to_thread(self.painter.title_card, background_of(0), inputs.title)
        pieces = workdir / "pieces"
        pieces.mkdir()
        total = sum(sum(lengths) for lengths in needed.values())
        done = 0
        gate = asyncio.Semaphore(self.parallel)

        async def encode(still: int) -> None:
            nonlocal done
            background, caption = stills[still]
            async with gate:
                picture = (
                    card if background == TITLE_CARD else await asyncio.to_thread(background_of, background)
                )
                painted = await asyncio.to_thread(self.painter.captioned, picture, caption)
                raw = painted.convert("RGB").tobytes()  # piped to FFmpeg: no image file in between
                del painted
                picture_only = None
                if repeat:
                    one = pieces / f"{still}-picture.h264"
                    await self.ffmpeg.run(self._still(1, one, video, encoder), stdin=raw)
                    picture_only = one.read_bytes()
                for frames in sorted(needed[still]):
                    out = pieces / f"{still}-{frames}.h264"
                    try:
                        if picture_only is None:
                            raise skipframes.Unsupported("this encoder's pieces are encoded whole")
                        await asyncio.to_thread(out.write_bytes, skipframes.repeated(picture_only, frames))
                    except skipframes.Unsupported:
                        await self.ffmpeg.run(self._still(frames, out, video, encoder), stdin=raw)
                    done += frames
                    await progress(5 + 85 * done / total, f"encoded {done} of {total} frames")

        tasks = [asyncio.create_task(encode(still)) for still in needed]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
        return card, [pieces / f"{still}-{frames}.h264" for still, frames in sequence]
