"""The render step: outline + cues + narration (+ uploaded images) -> video.mp4, thumbnail, subtitles,
and the shorts the job asks for."""

from __future__ import annotations

import asyncio
import math
import time
from pathlib import Path

import av
from PIL import Image, UnidentifiedImageError
from pydantic import ValidationError

from services.render import music, shorts
from services.render.ffmpeg import FFmpeg
from services.render.images import ImageGenerator, Patterns
from services.render.paint import Painter
from services.render.renderer import Renderer, RenderInputs, RenderOutput
from shared import metrics, names
from shared.config import MUSIC_BEDS, VideoPreset
from shared.cues import Cues
from shared.errors import PermanentError
from shared.script import Script
from shared.worker import StepContext


class RenderStep:
    def __init__(
        self,
        ffmpeg: FFmpeg,
        font_path: Path | None = None,
        parallel: int | None = None,
        images: ImageGenerator | None = None,
    ) -> None:
        self.ffmpeg = ffmpeg
        self.font_path = font_path
        self.parallel = parallel
        self.images = images or Patterns(font_path)  # pictures for jobs without uploads

    async def __call__(self, ctx: StepContext) -> dict[str, float]:
        began = time.monotonic()
        if ctx.job.config is None:
            raise PermanentError("the job has no configuration snapshot; create it again")
        video = ctx.job.config.video
        try:
            Script.model_validate_json((await ctx.fetch("outline.json")).read_bytes())
            cues = Cues.model_validate_json((await ctx.fetch("cues.json")).read_bytes())
        except ValidationError as err:
            raise PermanentError("the script or cue file is not valid; retry the narration step") from err
        painter = Painter(video.width, video.height, self.font_path)
        backgrounds, clips = await self._backgrounds(ctx, painter, cues.duration)
        inputs = RenderInputs(
            title=ctx.job.title,
            cues=cues,
            narration=await ctx.fetch("narration.wav"),
            backgrounds=backgrounds,
            video=video,
            effects=ctx.job.config.effects,
            music=await self._music(ctx),
            clips=clips,
        )
        out = await Renderer(self.ffmpeg, painter, self.parallel).render(inputs, ctx.workdir, ctx.progress)
        await ctx.progress(92, "saving the video")
        rtf = out.seconds / max(time.monotonic() - began, 1e-6)
        metrics.RENDER_RTF.observe(rtf)
        meta = _described(out, video) | {"realtime_factor": round(rtf, 2)}
        await ctx.save(out.video, "video.mp4", "video", "video/mp4", meta)
        portrait = video.height > video.width
        size = {"width": 720, "height": 1280} if portrait else {"width": 1280, "height": 720}
        await ctx.save(out.thumbnail, "thumbnail.jpg", "image", "image/jpeg", size)
        await ctx.save(out.srt, "subtitles.srt", "subtitles", "application/x-subrip; charset=utf-8")
        await ctx.save(out.vtt, "subtitles.vtt", "subtitles", "text/vtt; charset=utf-8")
        made = await self._shorts(ctx, inputs) if ctx.job.options.shorts else 0
        return {
            "video_s": out.seconds,
            "realtime_factor": round(rtf, 2),
            "stills": float(out.stills),
            "shorts": float(made),
        }

    async def _shorts(self, ctx: StepContext, inputs: RenderInputs) -> int:
        """Vertical shorts cut from the narration on sentence boundaries, re-framed to 9:16 with
        large word-by-word captions; each is its own artifact (`short-<n>.mp4`)."""
        video = inputs.video
        vertical = video.model_copy(
            # no end card: a short loops on the platforms, and one would stop it
            update={
                "width": 1080,
                "height": 1920,
                "captions": "words",
                "title_card_s": 2.0,
                "end_card_s": 0.0,
            }
        )
        painter = Painter(vertical.width, vertical.height, self.font_path)
        stretches = shorts.choose(inputs.cues, ctx.job.options.shorts)
        if len(stretches) < ctx.job.options.shorts:
            await ctx.progress(
                94,
                f"the narration holds {len(stretches)} stretch(es) of whole sentences lasting 15-59 s,"
                f" so {len(stretches)} of the {ctx.job.options.shorts} shorts asked for are made",
                log=True,
            )
        renderer = Renderer(self.ffmpeg, painter, self.parallel)

        async def logged_only(percent: float, message: str = "", *, log: bool = False) -> None:
            if log:  # a short's own percentages would make the step's bar jump back
                await ctx.progress(94, message, log=True)

        for n, stretch in enumerate(stretches, 1):
            folder = ctx.workdir / f"short-{n}"
            folder.mkdir(exist_ok=True)
            cues = await asyncio.to_thread(
                shorts.cut, inputs.cues, inputs.narration, stretch, folder / "n.wav"
            )
            backgrounds = [
                await asyncio.to_thread(self._reframed, path, painter, folder / f"{k}.ppm")
                for k, path in enumerate(inputs.backgrounds)
            ]
            short = RenderInputs(
                inputs.title,
                cues,
                folder / "n.wav",
                backgrounds,
                vertical,
                inputs.effects,
                inputs.music,
                inputs.clips,
            )
            out = await renderer.render(short, folder, logged_only)
            meta = _described(out, vertical) | {
                "starts_at_s": round(stretch.start, 3),
                "ends_at_s": round(stretch.end, 3),
            }
            await ctx.save(out.video, f"short-{n}.mp4", "video", "video/mp4", meta)
            await ctx.progress(94 + 5 * n / len(stretches), f"short {n} of {len(stretches)} saved")
        return len(stretches)

    @staticmethod
    def _reframed(path: Path, painter: Painter, out: Path) -> Path:
        """A background cropped from its middle to the short's frame."""
        painter.fitted(path).save(out)
        return out

    @staticmethod
    async def _music(ctx: StepContext) -> Path | None:
        """The job's music (its own choice, else its recipe's): a built-in bed made here, an audio
        upload fetched, or none."""
        assert ctx.job.config is not None
        effects = ctx.job.config.effects
        choice = ctx.job.options.music or (effects.music if effects else None)
        if choice is None or choice == "none":
            return None
        if choice in MUSIC_BEDS:
            return await asyncio.to_thread(music.write_bed, choice, ctx.workdir / f"music-{choice}.wav")
        if not await ctx.artifacts.exists(names.music_object(choice)):
            raise PermanentError(
                f"the music upload {choice} is gone; upload it again or choose other music for the job"
            )
        return await ctx.artifacts.get_file(names.music_object(choice), ctx.workdir / "in" / "music" / choice)

    async def _backgrounds(
        self, ctx: StepContext, painter: Painter, duration: float
    ) -> tuple[list[Path], dict[int, Path]]:
        """Uploaded images and clips when the job has them, else as many generated images as the job
        asks for; fitted to the video's size and kept as files (PPM: nothing to compress or
        decompress). A clip is kept as it is (with its first frame as the picture cards are made
        from), and returned apart: background index -> clip."""
        folder = ctx.workdir / "backgrounds"
        folder.mkdir(exist_ok=True)

        def keep(image: Image.Image, n: int) -> Path:
            path = folder / f"{n}.ppm"
            image.save(path)
            return path

        def uploaded(path: Path, n: int) -> Path:
            return keep(painter.fitted(path), n)

        def poster(path: Path, n: int) -> Path:
            try:
                with av.open(str(path), options={"protocol_whitelist": "file"}) as container:
                    first = next(container.decode(video=0)).to_image()
            except (av.FFmpegError, StopIteration) as err:
                raise PermanentError(f"uploaded background {n + 1} is neither a picture nor a clip") from err
            return keep(painter.fitted_image(first), n)

        out: list[Path] = []
        clips: dict[int, Path] = {}
        if ctx.job.images:
            for n, upload in enumerate(ctx.job.images):
                dest = ctx.workdir / "in" / "uploads" / upload
                path = await ctx.artifacts.get_file(names.upload_object(upload), dest)
                try:
                    out.append(await asyncio.to_thread(uploaded, path, n))
                except UnidentifiedImageError:  # checked when it was uploaded: a video clip
                    out.append(await asyncio.to_thread(poster, path, n))
                    clips[n] = path
            return out, clips
        count = min(ctx.job.options.images_count, max(1, math.ceil(duration / 3)))  # never flash by
        for n in range(count):
            image = await self.images.generate(ctx.job.title, ctx.job.brief, n, painter.size)
            fitted = image if image.size == painter.size else painter.fitted_image(image)
            out.append(await asyncio.to_thread(keep, fitted, n))
        return out, clips


def _described(out: RenderOutput, video: VideoPreset) -> dict[str, str | float]:
    """A rendered video's artifact metadata: length, frame, and the encoder that made it."""
    meta: dict[str, str | float] = {
        "duration_s": round(out.seconds, 3),
        "width": video.width,
        "height": video.height,
        "fps": video.fps,
        "encoder": out.encoder,
    }
    if out.fallback:
        meta["encoder_fallback"] = out.fallback
    return meta
