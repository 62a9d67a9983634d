"""The render step: outline + cues + narration (+ uploaded images) -> video.mp4, thumbnail, subtitles,
and the shorts the job asks for."""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
from collections.abc import Sequence
from pathlib import Path

import av
from PIL import Image, UnidentifiedImageError
from pydantic import ValidationError

from services.render import music, shorts
from services.render.ffmpeg import FFmpeg
from services.render.images import ImageGenerator, Patterns
from services.render.paint import Painter
from services.render.plan import scene_count
from services.render.renderer import Renderer, RenderInputs, RenderOutput
from shared import metrics, names
from shared.artifacts import ArtifactStore
from shared.config import MUSIC_BEDS, VideoPreset
from shared.cues import Cues
from shared.errors import PermanentError
from shared.media import open_local
from shared.said import Said, said
from shared.script import Script
from shared.worker import Output, StepInput, StepMetrics, StepResult, StepRun


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

    async def __call__(self, step: StepInput) -> StepResult:
        began = time.monotonic()
        video, effects, run = step.config.video, step.config.effects, step.run
        try:
            script = Script.model_validate_json(step.read(names.OUTLINE).read_bytes())
            cues = Cues.model_validate_json(step.read(names.CUES).read_bytes())
        except ValidationError as err:
            raise PermanentError("the script or cue file is not valid; retry the narration step") from err
        painter = Painter(video.width, video.height, self.font_path)
        uploads = [await _upload(run.artifacts, upload, step.workdir) for upload in step.images]
        count = min(step.options.images_count, max(1, math.ceil(cues.duration / 3)))  # never flash by
        if script.scenes:  # a person marked where the picture changes: one background per scene
            count = scene_count(cues, video.fps, video.title_card_s, script.scenes)
        folder = step.workdir / "backgrounds"
        backgrounds, clips = await self._backgrounds(uploads, step.title, step.brief, count, painter, folder)
        if script.scenes and uploads:  # the uploads take turns, scene after scene
            backgrounds = [backgrounds[n % len(backgrounds)] for n in range(count)]
            clips = {n: clips[n % len(uploads)] for n in range(count) if n % len(uploads) in clips}
        choice = step.options.music or (effects.music if effects else None)
        inputs = RenderInputs(
            title=step.title,
            cues=cues,
            narration=step.read(names.NARRATION),
            backgrounds=backgrounds,
            video=video,
            effects=effects,
            music=await _music(choice, run.artifacts, step.workdir),
            clips=clips,
            scenes=script.scenes,
        )
        out = await Renderer(self.ffmpeg, painter, self.parallel).render(inputs, step.workdir, run.progress)
        await run.progress(92, said("saving_video"))
        rtf = out.seconds / max(time.monotonic() - began, 1e-6)
        metrics.RENDER_RTF.observe(rtf)
        meta = _described(out, video) | {"realtime_factor": round(rtf, 2)}
        portrait = video.height > video.width
        size = {"width": 720, "height": 1280} if portrait else {"width": 1280, "height": 720}
        # kept as each is made (not returned at the end): the drawer shows the video while the
        # shorts are cut, and each short as soon as it is saved
        for output in (
            Output(out.video, names.VIDEO, "video", "video/mp4", meta),
            Output(out.thumbnail, names.THUMBNAIL, "image", "image/jpeg", size),
            Output(out.srt, names.SUBTITLES_SRT, "subtitles", "application/x-subrip; charset=utf-8"),
            Output(out.vtt, names.SUBTITLES_VTT, "subtitles", "text/vtt; charset=utf-8"),
        ):
            await run.keep(output)
        if not uploads:
            await _keep_backgrounds(backgrounds, run)
        made = await self._shorts(inputs, step.options.shorts, run) if step.options.shorts else 0
        return StepResult(
            metrics=StepMetrics(
                video_s=out.seconds,
                realtime_factor=round(rtf, 2),
                stills=float(out.stills),
                shorts=float(made),
            )
        )

    async def _shorts(self, inputs: RenderInputs, asked: int, run: StepRun) -> int:
        """Vertical shorts cut from the narration on sentence boundaries, re-framed to 9:16 with
        large word-by-word captions; each is its own artifact (`short-<n>.mp4`), kept once made."""
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
        stretches = shorts.choose(inputs.cues, asked)
        if len(stretches) < asked:
            await run.progress(94, said("shorts_fewer", made=len(stretches), asked=asked), log=True)
        renderer = Renderer(self.ffmpeg, painter, self.parallel)

        async def logged_only(percent: float, message: str | Said = "", *, log: bool = False) -> None:
            if log:  # a short's own percentages would make the step's bar jump back
                await run.progress(94, message, log=True)

        for n, stretch in enumerate(stretches, 1):
            folder = run.workdir / f"short-{n}"
            folder.mkdir(exist_ok=True)
            cues = await asyncio.to_thread(
                shorts.cut, inputs.cues, inputs.narration, stretch, folder / "n.wav"
            )
            backgrounds = [
                await asyncio.to_thread(self._reframed, path, painter, folder / f"{k}.ppm")
                for k, path in enumerate(inputs.backgrounds)
            ]
            short = dataclasses.replace(
                inputs,
                cues=cues,
                narration=folder / "n.wav",
                backgrounds=backgrounds,
                video=vertical,
                scenes=(),  # a short's cues are numbered again: its pictures are spread evenly
            )
            out = await renderer.render(short, folder, logged_only)
            meta = _described(out, vertical) | {
                "starts_at_s": round(stretch.start, 3),
                "ends_at_s": round(stretch.end, 3),
            }
            await run.keep(Output(out.video, names.short_video(n), "video", "video/mp4", meta))
            await run.progress(94 + 5 * n / len(stretches), said("short_saved", n=n, total=len(stretches)))
        return len(stretches)

    @staticmethod
    def _reframed(path: Path, painter: Painter, out: Path) -> Path:
        """A background cropped from its middle to the short's frame."""
        painter.fitted(path).save(out)
        return out

    async def _backgrounds(
        self, uploads: Sequence[Path], title: str, brief: str, count: int, painter: Painter, folder: Path
    ) -> tuple[list[Path], dict[int, Path]]:
        """The job's uploaded images and clips when it has them, else `count` generated images;
        fitted to the video's size and kept as files in `folder` (PPM: nothing to compress or
        decompress). A clip is kept as it is (with its first frame as the picture cards are made
        from), and returned apart: background index -> clip."""
        folder.mkdir(exist_ok=True)

        def keep(image: Image.Image, n: int) -> Path:
            path = folder / f"{n}.ppm"
            image.save(path)
            return path

        def uploaded(path: Path, n: int) -> Path:
            return keep(painter.fitted(path), n)

        def poster(path: Path, n: int) -> Path:
            try:
                with open_local(path) as container:
                    first = next(container.decode(video=0)).to_image()
            except (av.FFmpegError, StopIteration) as err:
                raise PermanentError(f"uploaded background {n + 1} is neither a picture nor a clip") from err
            return keep(painter.fitted_image(first), n)

        out: list[Path] = []
        clips: dict[int, Path] = {}
        if uploads:
            for n, path in enumerate(uploads):
                try:
                    out.append(await asyncio.to_thread(uploaded, path, n))
                except UnidentifiedImageError:  # checked when it was uploaded: a video clip
                    out.append(await asyncio.to_thread(poster, path, n))
                    clips[n] = path
            return out, clips
        for n in range(count):
            image = await self.images.generate(title, brief, n, painter.size)
            fitted = image if image.size == painter.size else painter.fitted_image(image)
            out.append(await asyncio.to_thread(keep, fitted, n))
        return out, clips


BACKGROUND_PREVIEW = (640, 640)  # the drawer shows them small; the video has them full size


async def _keep_backgrounds(backgrounds: Sequence[Path], run: StepRun) -> None:
    """The generated backgrounds, kept as JPEG previews (`background-<n>.jpg`) for the drawer's Images
    tab. A job whose pipeline snapshot predates them does not declare them: nothing is kept."""
    for n, path in enumerate(backgrounds):
        name = names.background_image(n)
        if not run.spec.writes_artifact(name):
            return
        out = path.with_suffix(".jpg")

        def preview(source: Path = path, target: Path = out) -> tuple[int, int]:
            with Image.open(source) as image:
                small = image.convert("RGB")
                small.thumbnail(BACKGROUND_PREVIEW)
                small.save(target, quality=85)
                return small.size

        width, height = await asyncio.to_thread(preview)
        await run.keep(Output(out, name, "image", "image/jpeg", {"width": width, "height": height}))


async def _upload(artifacts: ArtifactStore, upload: str, workdir: Path) -> Path:
    """An uploaded image or clip, downloaded."""
    return await artifacts.get_file(names.upload_object(upload), workdir / "in" / "uploads" / upload)


async def _music(choice: str | None, artifacts: ArtifactStore, workdir: Path) -> Path | None:
    """The job's music (its own choice, else its recipe's): a built-in bed made here, an audio
    upload fetched, or none."""
    if choice is None or choice == "none":
        return None
    if choice in MUSIC_BEDS:
        return await asyncio.to_thread(music.write_bed, choice, workdir / f"music-{choice}.wav")
    if not await artifacts.exists(names.music_object(choice)):
        raise PermanentError(
            f"the music upload {choice} is gone; upload it again or choose other music for the job"
        )
    return await artifacts.get_file(names.music_object(choice), workdir / "in" / "music" / choice)


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
