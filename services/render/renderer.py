"""The renderer: narration, cues and backgrounds in, video + thumbnail + subtitles out.

How it is fast: every distinct picture (background + caption) is painted once and encoded once, as
one IDR frame; each segment that shows it is that frame followed by skip frames (`skipframes`: a
P picture that copies the previous one, a few bytes, never encoded). Under a Ken Burns push-in the
frames that follow a picture move instead (`motion`: P pictures of whole-pixel macroblock moves),
and a picture of the exact zoom comes again twice a second. A fade is a run of encoded blends.
The timeline's H.264 is written as it is encoded, and muxed with the AAC narration without
re-encoding. Pictures encode in this process, in one x264 context whose threads share each
picture (`pictures`), while FFmpeg encodes the audio.
(A hardware encoder's pieces are encoded whole by FFmpeg: a one-second piece per picture,
repeated, and a remainder; push-ins and fades are written with libx264.)
"""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from PIL import Image

from services.render import music, skipframes
from services.render.ffmpeg import LOUDNESS, Bed, FFmpeg
from services.render.paint import Painter
from services.render.pictures import (
    Clip,
    Planes,
    StillEncoder,
    blended,
    give_back_big_buffers,
    overlay,
    planes_of,
    zoomed,
)
from services.render.plan import END_CARD, TITLE_CARD, RenderPlan, Shot, View, plan_render, shots
from shared.config import EffectsPreset, VideoPreset
from shared.cues import Cues
from shared.errors import PermanentError
from shared.said import said
from shared.worker import Progress

if TYPE_CHECKING:  # numpy (~14 MB) is loaded only by a render with push-ins
    from services.render.motion import MotionField, Zoom

Piece = tuple[int, int]  # (still index, frames)
SHARES = {"video": 0.7, "audio": 0.3}  # of the render's work, for its progress
REFRESH_S = 0.5  # under a push-in, how often a picture of the exact zoom is encoded
Picture = tuple[View, View | None, float]  # a shot's picture: a view, over another by a mix
Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class RenderInputs:
    title: str
    cues: Cues
    narration: Path
    backgrounds: list[Path]  # pictures of the video's size, as files (read when needed, not held)
    video: VideoPreset
    effects: EffectsPreset | None = None
    music: Path | None = None  # the music file under the narration (looped), at the effects' level
    clips: Mapping[int, Path] = field(default_factory=dict)  # backgrounds that are video clips
    scenes: tuple[int, ...] = ()  # the cues where a person marked that the picture changes


@dataclass(frozen=True)
class RenderOutput:
    video: Path
    thumbnail: Path
    srt: Path
    vtt: Path
    seconds: float
    stills: int  # distinct pictures encoded
    encoder: str = "libx264"
    fallback: str | None = None  # why the preset's encoder did not render, when it did not


def _concatenate(parts: list[Path], out: Path) -> None:
    with out.open("wb") as sink:
        for part in parts:
            with part.open("rb") as source:
                shutil.copyfileobj(source, sink, 1 << 20)


class Renderer:
    def __init__(
        self, ffmpeg: FFmpeg, painter: Painter, parallel: int | None = None, refresh_s: float = REFRESH_S
    ) -> None:
        self.ffmpeg = ffmpeg
        self.painter = painter
        self.parallel = parallel or os.cpu_count() or 2
        self.refresh_s = refresh_s
        give_back_big_buffers()

    async def render(self, inputs: RenderInputs, workdir: Path, progress: Progress) -> RenderOutput:
        video = inputs.video
        effects = inputs.effects or EffectsPreset(slug="none")
        plan = plan_render(
            inputs.cues,
            video.fps,
            len(inputs.backgrounds),
            video.title_card_s,
            video.captions,
            round(video.end_card_s * video.fps),
            inputs.scenes,
        )
        fade = round(effects.transition_s * video.fps) if effects.transition == "fade" else 0
        refresh = max(1, round(self.refresh_s * video.fps))
        timeline = shots(plan, effects.ken_burns, fade, refresh, frozenset(inputs.clips))
        await progress(5, said("rendering_frames", frames=plan.total_frames))
        shares = _Shares(progress)
        audio = workdir / "narration.m4a"
        seconds = plan.total_frames / video.fps
        audio_task = asyncio.create_task(self._audio(inputs, effects, audio, seconds, workdir, shares))
        h264 = workdir / "video.h264"
        try:
            encoder, fallback = await self.ffmpeg.choose_encoder(video.encoder)
            if encoder != "libx264" and (inputs.clips or any(shot.moving or shot.under for shot in timeline)):
                fallback = f"{encoder} not used: push-ins, fades and clips are written as libx264 streams"
                encoder = "libx264"
            try:
                card = await self._encode(inputs, plan, timeline, workdir, shares, encoder, h264)
            except PermanentError as err:
                if encoder == "libx264":
                    raise
                # the hardware encoder failed mid-render: every piece again with libx264 (pieces
                # are byte-concatenated, so they must all come from one encoder)
                fallback = f"{encoder} failed ({err.message[:120]})"
                await progress(5, said("encoder_falls_back", fallback=fallback), log=True)
                shutil.rmtree(workdir / "pieces", ignore_errors=True)
                encoder = "libx264"
                card = await self._encode(inputs, plan, timeline, workdir, shares, encoder, h264)
            await audio_task
        finally:
            audio_task.cancel()
        await progress(90, said("muxing"))
        mp4 = workdir / "video.mp4"
        await self.ffmpeg.run(self.ffmpeg.mux_args(h264, audio, video.fps, mp4))
        thumbnail = workdir / "thumbnail.jpg"
        size = (720, 1280) if video.height > video.width else (1280, 720)
        await asyncio.to_thread(lambda: self.painter.thumbnail(card, size).save(thumbnail, quality=90))
        srt, vtt = workdir / "subtitles.srt", workdir / "subtitles.vtt"
        srt.write_text(inputs.cues.to_srt(), encoding="utf-8")
        vtt.write_text(inputs.cues.to_vtt(), encoding="utf-8")
        pictures = len({shot.picture for shot in timeline})
        return RenderOutput(mp4, thumbnail, srt, vtt, seconds, pictures, encoder, fallback)

    async def _audio(
        self,
        inputs: RenderInputs,
        effects: EffectsPreset,
        out: Path,
        seconds: float,
        workdir: Path,
        shares: _Shares,
    ) -> None:
        """The narration as AAC, normalised to -14 LUFS integrated (EBU R128); with music, over the
        music (at its level, ducked under speech), the mix normalised."""
        gain = await self.ffmpeg.loudness_gain(inputs.narration)
        bed, trim = None, 0.0
        if inputs.music is not None:
            level = LOUDNESS["I"] + effects.music_volume_db - await self.ffmpeg.music_loudness(inputs.music)
            envelope = await asyncio.to_thread(
                lambda: music.write_envelope(
                    music.envelope(inputs.cues, seconds, effects.ducking_db), workdir / "ducking.wav"
                )
            )
            bed = Bed(inputs.music, level, envelope)
            trim = LOUDNESS["I"] - await self.ffmpeg.loudness(inputs.narration, gain, bed, seconds=seconds)

        async def encoded(written: float) -> None:
            await shares.report("audio", written / max(seconds, 1e-3))

        args = self.ffmpeg.audio_args(
            inputs.narration, out, inputs.video.audio_bitrate, gain, bed, trim, seconds=seconds
        )
        await self.ffmpeg.run(args, progress=encoded)

    async def _encode(
        self,
        inputs: RenderInputs,
        plan: RenderPlan,
        timeline: list[Shot],
        workdir: Path,
        shares: _Shares,
        encoder: str,
        out: Path,
    ) -> Image.Image:
        """Paint and encode every picture the timeline needs, and write the timeline's H.264 to
        `out`; returns the title card (for the thumbnail)."""
        video = inputs.video
        size = (video.width, video.height)

        @functools.lru_cache(maxsize=self.parallel + 1)  # consecutive stills mostly share a background
        def background_of(index: int) -> Image.Image:
            with Image.open(inputs.backgrounds[index]) as image:
                return image.convert("RGB")

        @functools.lru_cache(maxsize=2)  # a push-in's pictures come one background after another
        def background_planes(index: int) -> Planes:
            return planes_of(background_of(index))

        zooms: dict[int, Zoom] = {}
        if any(shot.moving for shot in timeline):
            from services.render.motion import Zoom

            zooms = {
                n: Zoom.for_background(n, end - start, video.fps, size)
                for n, (start, end) in enumerate(plan.spans)
            }
        card = await asyncio.to_thread(self.painter.title_card, background_of(0), inputs.title)
        end_card = None
        if plan.end_card:
            last = background_of(len(inputs.backgrounds) - 1)
            end_card = await asyncio.to_thread(
                self.painter.title_card, last, video.end_card_text or inputs.title
            )

        cards = {TITLE_CARD: card, END_CARD: end_card}

        def still(view: View) -> Image.Image:
            background, caption, highlight = view.still
            picture = cards.get(background) or background_of(background)
            return self.painter.captioned(picture, caption, highlight, video.captions)

        clips = {n: Clip(path, size, video.fps) for n, path in inputs.clips.items()}

        def shown(view: View) -> Planes:
            """The view's picture, captioned, as the encoder's planes. A push-in's picture is
            resized from the background's planes (half the bytes of RGB, and no conversion); a
            clip's is its frame."""
            background, caption, highlight = view.still
            if view.at < 0:
                return planes_of(still(view))
            if background in clips:
                planes = clips[background].planes(view.at)
            else:
                planes = zoomed(background_planes(background), zooms[background].box(view.at))
            if caption:
                return overlay(planes, *self.painter.caption_layer(caption, highlight, video.captions))
            return planes

        def painted(picture: Picture) -> tuple[Planes, Box | None]:
            """A shot's picture, and where its caption is (a push-in does not move it)."""
            view, under, mix = picture
            planes = shown(view)
            if under is not None:
                return blended(shown(under), planes, mix), None
            _, caption, highlight = view.still
            if view.at < 0 or not caption:
                return planes, None
            layer, (x, y) = self.painter.caption_layer(caption, highlight, video.captions)
            return planes, (x, y, x + layer.width, y + layer.height)

        if encoder == "libx264":
            try:
                await self._pictures(timeline, painted, video, zooms, shares, out, frozenset(clips))
            finally:
                for clip in clips.values():
                    clip.close()
            return card
        keys: dict[Picture, int] = {}
        segments: list[Piece] = [(keys.setdefault(shot.picture, len(keys)), shot.frames) for shot in timeline]
        pictures = list(keys)
        pieces = workdir / "pieces"
        pieces.mkdir(exist_ok=True)
        order = await self._whole(segments, lambda n: still(pictures[n][0]), video, pieces, shares, encoder)
        await asyncio.to_thread(_concatenate, order, out)
        return card

    async def _pictures(
        self,
        timeline: list[Shot],
        painted: Callable[[Picture], tuple[Planes, Box | None]],
        video: VideoPreset,
        zooms: dict[int, Zoom],
        shares: _Shares,
        out: Path,
        clips: frozenset[int] = frozenset(),
    ) -> None:
        """Every distinct picture encoded once, as an IDR (one x264 context whose threads share
        each picture, while the next one is painted), and the timeline written as the pictures
        come: each shot's picture, then its skip or motion frames. A clip's frames after its first
        are P frames, each from the one before."""
        pictures = list(dict.fromkeys(shot.picture for shot in timeline))
        encoder = await asyncio.to_thread(StillEncoder, video, self.parallel, bool(clips))
        upcoming = asyncio.create_task(asyncio.to_thread(painted, pictures[0]))
        with out.open("wb") as sink:
            writer = _Writer(timeline, zooms, sink)
            try:
                for n, picture in enumerate(pictures):
                    image, caption_box = await upcoming
                    if n + 1 < len(pictures):
                        upcoming = asyncio.create_task(asyncio.to_thread(painted, pictures[n + 1]))
                    writer.captions[picture] = caption_box
                    idr = not (n and _continues(pictures[n - 1], picture, clips))
                    finished = await asyncio.to_thread(encoder.encode, n, image, idr)
                    del image
                    await asyncio.to_thread(writer.write, [(pictures[k], data) for k, data in finished])
                    await shares.report("video", writer.done / writer.total)
                finished = await asyncio.to_thread(encoder.finish)
                await asyncio.to_thread(writer.write, [(pictures[k], data) for k, data in finished])
            finally:
                upcoming.cancel()
        if writer.done != writer.total:
            raise RuntimeError(f"wrote {writer.done} of {writer.total} frames")

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


def _continues(before: Picture, picture: Picture, clips: frozenset[int]) -> bool:
    """Whether `picture` is the frame after `before` in one clip: then it is a P frame from it (a
    clip's frames all differ; as IDRs they would cost ten times the bits)."""
    (was, was_under, _), (view, under, _) = before, picture
    moving_clip = view.at > 0 and was.at == view.at - 1 and was.still[0] == view.still[0]
    return moving_clip and was_under is None and under is None and view.still[0] in clips


class _Shares:
    """The render's progress from its parallel parts: pictures (most of the work) and the audio."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.done = dict.fromkeys(SHARES, 0.0)

    async def report(self, part: str, fraction: float) -> None:
        self.done[part] = min(1.0, fraction)
        total = sum(SHARES[name] * value for name, value in self.done.items())
        video, audio = (round(100 * self.done[name]) for name in ("video", "audio"))
        await self.progress(5 + 85 * total, said("render_shares", video=video, audio=audio))


class _Writer:
    """The timeline's H.264, written in order as its pictures come from the encoder: each shot's
    picture, then skip frames, or motion frames under a push-in (the same for consecutive shots
    of one background and caption place, so they are built once for them)."""

    def __init__(self, timeline: list[Shot], zooms: dict[int, Zoom], sink: BinaryIO) -> None:
        self.timeline = timeline
        self.zooms = zooms
        self.sink = sink
        self.captions: dict[Picture, Box | None] = {}  # where each picture's caption is
        self.total = sum(shot.frames for shot in timeline)
        self.done = 0
        self._uses = Counter(shot.picture for shot in timeline)
        self._ready: dict[Picture, bytes] = {}
        self._next = 0
        self._repeater: skipframes.Repeater | None = None
        self._moves: tuple[tuple[int, Box | None], MotionField, list[bytes]] | None = None

    def write(self, finished: list[tuple[Picture, bytes]]) -> None:
        self._ready.update(finished)
        while self._next < len(self.timeline) and self.timeline[self._next].picture in self._ready:
            shot = self.timeline[self._next]
            data = self._ready[shot.picture]
            if self._repeater is None:
                self._repeater = skipframes.Repeater(skipframes.parameters(data))
            self.sink.write(data)
            if shot.moving:
                self.sink.write(b"".join(self._moved(shot, self._repeater.params)))
            else:
                self.sink.write(self._repeater.after(shot.frames))
            self._uses[shot.picture] -= 1
            if not self._uses[shot.picture]:
                del self._ready[shot.picture]
            self.done += shot.frames
            self._next += 1

    def _moved(self, shot: Shot, params: skipframes.Parameters) -> list[bytes]:
        """Frames 1 .. frames-1 after a push-in's picture."""
        from services.render.motion import MotionField, moving_frame

        key = (shot.view.still[0], self.captions[shot.picture])
        if self._moves is None or self._moves[0] != key:
            self._moves = (key, MotionField(self.zooms[key[0]], key[1]), [b""])
        _, field, frames = self._moves
        while len(frames) < shot.frames:
            frames.append(moving_frame(params, len(frames), *field.step()))
        return frames[1 : shot.frames]
