"""The renderer: narration, cues and backgrounds in, video + thumbnail + subtitles out.

How it is fast: every distinct picture (background + caption) is painted once and encoded once, as
one IDR frame; each segment that shows it is that frame followed by skip frames (`skipframes`: a
P picture that copies the previous one, a few bytes, never encoded). The timeline is the
byte-concatenation of those pieces, muxed with the AAC narration without re-encoding. Pictures
encode in this process, in one x264 context whose threads share each picture (`pictures`), while
FFmpeg encodes the audio.
(A hardware encoder's pieces are encoded whole by FFmpeg: a one-second piece per picture,
repeated, and a remainder.)
"""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from services.render import skipframes
from services.render.ffmpeg import FFmpeg
from services.render.paint import Painter
from services.render.pictures import StillEncoder, give_back_big_buffers
from services.render.plan import TITLE_CARD, RenderPlan, plan_render
from shared.config import VideoPreset
from shared.cues import Cues
from shared.errors import PermanentError
from shared.worker import Progress

Piece = tuple[int, int]  # (still index, frames)
SHARES = {"video": 0.7, "audio": 0.3}  # of the render's work, for its progress


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
        give_back_big_buffers()

    async def render(self, inputs: RenderInputs, workdir: Path, progress: Progress) -> RenderOutput:
        video = inputs.video
        plan = plan_render(
            inputs.cues, video.fps, len(inputs.backgrounds), video.title_card_s, video.captions
        )
        await progress(5, f"rendering {plan.total_frames} frames")
        shares = _Shares(progress)
        audio = workdir / "narration.m4a"
        seconds = plan.total_frames / video.fps
        audio_task = asyncio.create_task(
            self._audio(inputs.narration, audio, video.audio_bitrate, seconds, shares)
        )
        h264 = workdir / "video.h264"
        try:
            encoder, fallback = await self.ffmpeg.choose_encoder(video.encoder)
            try:
                card = await self._encode(inputs, plan, workdir, shares, encoder, h264)
            except PermanentError as err:
                if encoder == "libx264":
                    raise
                # the hardware encoder failed mid-render: every piece again with libx264 (pieces
                # are byte-concatenated, so they must all come from one encoder)
                fallback = f"{encoder} failed ({err.message[:120]})"
                await progress(5, f"{fallback}; rendering with libx264", log=True)
                shutil.rmtree(workdir / "pieces", ignore_errors=True)
                encoder = "libx264"
                card = await self._encode(inputs, plan, workdir, shares, encoder, h264)
            await audio_task
        finally:
            audio_task.cancel()
        await progress(90, "muxing video and audio")
        mp4 = workdir / "video.mp4"
        await self.ffmpeg.run(self.ffmpeg.mux_args(h264, audio, video.fps, mp4))
        thumbnail = workdir / "thumbnail.jpg"
        size = (720, 1280) if video.height > video.width else (1280, 720)
        await asyncio.to_thread(lambda: self.painter.thumbnail(card, size).save(thumbnail, quality=90))
        srt, vtt = workdir / "subtitles.srt", workdir / "subtitles.vtt"
        srt.write_text(inputs.cues.to_srt(), encoding="utf-8")
        vtt.write_text(inputs.cues.to_vtt(), encoding="utf-8")
        return RenderOutput(mp4, thumbnail, srt, vtt, seconds, len(plan.stills()), encoder, fallback)

    async def _audio(self, wav: Path, out: Path, bitrate: str, seconds: float, shares: _Shares) -> None:
        """The narration as AAC, normalised to -14 LUFS integrated (EBU R128)."""
        gain = await self.ffmpeg.loudness_gain(wav)

        async def encoded(written: float) -> None:
            await shares.report("audio", written / max(seconds, 1e-3))

        await self.ffmpeg.run(self.ffmpeg.audio_args(wav, out, bitrate, gain), progress=encoded)

    async def _encode(
        self,
        inputs: RenderInputs,
        plan: RenderPlan,
        workdir: Path,
        shares: _Shares,
        encoder: str,
        out: Path,
    ) -> Image.Image:
        """Paint and encode every still the timeline needs, and write the timeline's H.264 to `out`;
        returns the title card (for the thumbnail)."""
        stills = plan.stills()
        index_of = {key: n for n, key in enumerate(stills)}
        segments: list[Piece] = [(index_of[s.still], s.frames) for s in plan.segments]

        @functools.lru_cache(maxsize=self.parallel + 1)  # consecutive stills mostly share a background
        def background_of(index: int) -> Image.Image:
            with Image.open(inputs.backgrounds[index]) as image:
                return image.convert("RGB")

        card = await asyncio.to_thread(self.painter.title_card, background_of(0), inputs.title)

        def painted(still: int) -> Image.Image:
            background, caption, highlight = stills[still]
            picture = card if background == TITLE_CARD else background_of(background)
            return self.painter.captioned(picture, caption, highlight, inputs.video.captions)

        pieces = workdir / "pieces"
        pieces.mkdir(exist_ok=True)
        if encoder == "libx264":
            await self._pictures(len(stills), painted, inputs.video, pieces, shares)
            await asyncio.to_thread(_assemble, segments, pieces, out)
        else:
            order = await self._whole(segments, painted, inputs.video, pieces, shares, encoder)
            await asyncio.to_thread(_concatenate, order, out)
        return card

    async def _pictures(
        self,
        count: int,
        painted: Callable[[int], Image.Image],
        video: VideoPreset,
        pieces: Path,
        shares: _Shares,
    ) -> None:
        """Every still as one IDR piece (`pieces/<still>.h264`): one x264 context whose threads
        share each picture, while the next still is painted."""
        encoder = await asyncio.to_thread(StillEncoder, video, self.parallel)
        done = 0
        upcoming = asyncio.create_task(asyncio.to_thread(painted, 0))
        try:
            for still in range(count):
                image = await upcoming
                if still + 1 < count:
                    upcoming = asyncio.create_task(asyncio.to_thread(painted, still + 1))
                finished = await asyncio.to_thread(encoder.encode, still, image)
                del image
                done += await asyncio.to_thread(_keep, finished, pieces)
                await shares.report("video", done / count)
            done += await asyncio.to_thread(_keep, await asyncio.to_thread(encoder.finish), pieces)
        finally:
            upcoming.cancel()

    async def _whole(
        self,
        segments: list[Piece],
        painted: Callable[[int], Image.Image],
        video: VideoPreset,
        pieces: Path,
        shares: _Shares,
        encoder: str,
    ) -> list[Path]:
        """A hardware encoder's pieces, encoded whole (its stream may not be one skip frames can
        continue): a one-second piece per still, repeated, and a remainder. Returns them in order."""
        unit = video.fps
        sequence: list[Piece] = []
        for still, frames in segments:
            whole, rest = divmod(frames, unit)
            sequence += [(still, unit)] * whole + ([(still, rest)] if rest else [])
        needed: dict[int, set[int]] = {}
        for still, frames in sequence:
            needed.setdefault(still, set()).add(frames)
        total = sum(sum(lengths) for lengths in needed.values())
        done = 0
        gate = asyncio.Semaphore(self.parallel)
        size = (video.width, video.height)

        async def encode(still: int) -> None:
            nonlocal done
            async with gate:
                raw = await asyncio.to_thread(lambda: painted(still).convert("RGB").tobytes())
                for frames in sorted(needed[still]):
                    args = self.ffmpeg.still_args(
                        size,
                        frames,
                        video.fps,
                        pieces / f"{still}-{frames}.h264",
                        video.crf,
                        video.x264_preset,
                        video.bitrate,
                        encoder,
                    )
                    await self.ffmpeg.run(args, stdin=raw)
                    done += frames
                    await shares.report("video", done / total)

        tasks = [asyncio.create_task(encode(still)) for still in needed]
        try:
            await asyncio.gather(*tasks)
        finally:  # one failed or the render was cancelled: stop the others
            for task in tasks:
                task.cancel()
        return [pieces / f"{still}-{frames}.h264" for still, frames in sequence]


class _Shares:
    """The render's progress from its parallel parts: pictures (most of the work) and the audio."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.done = dict.fromkeys(SHARES, 0.0)

    async def report(self, part: str, fraction: float) -> None:
        self.done[part] = min(1.0, fraction)
        total = sum(SHARES[name] * value for name, value in self.done.items())
        video, audio = (round(100 * self.done[name]) for name in ("video", "audio"))
        await self.progress(5 + 85 * total, f"pictures {video}%, audio {audio}%")


def _keep(finished: list[tuple[int, bytes]], pieces: Path) -> int:
    for still, data in finished:
        (pieces / f"{still}.h264").write_bytes(data)
    return len(finished)


def _assemble(segments: list[Piece], pieces: Path, out: Path) -> None:
    """The timeline's H.264: each segment's still (its IDR piece) followed by skip frames."""
    repeater: skipframes.Repeater | None = None
    with out.open("wb") as sink:
        for still, frames in segments:
            picture = (pieces / f"{still}.h264").read_bytes()
            if repeater is None:
                repeater = skipframes.Repeater(skipframes.parameters(picture))
            sink.write(picture)
            sink.write(repeater.after(frames))
