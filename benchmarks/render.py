"""Render benchmark: 10 stills + ~300 s of narration at 1080p30, through the production renderer,
side by side with a plain MoviePy render of the same pictures and narration.

Prints wall seconds, realtime factor and peak RSS (this process + FFmpeg), and writes
benchmarks/results/<name>.json. MoviePy renders the first `--reference-seconds` of the same
timeline (its cost per second of video is constant, and the whole video would take an hour);
the ratio of the two realtime factors is printed. Usage:
python -m benchmarks.render [--seconds 300] [--name render] [--reference-seconds 30 | 0 to skip]
    [--ken-burns] [--music calm] [--no-save]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

from benchmarks.common import RESULTS, PeakMemory, machine, save
from services.render.ffmpeg import FFmpeg, ffmpeg_binary
from services.render.music import write_bed
from services.render.paint import Painter
from services.render.plan import TITLE_CARD, plan_render
from services.render.renderer import Renderer, RenderInputs
from services.tts.espeak import EspeakEngine
from services.tts.narrate import narrate
from shared.config import MUSIC_BEDS, EffectsPreset, VideoPreset, VoicePreset
from shared.script import Script, Section


def photo_like(index: int, size: tuple[int, int] = (1920, 1080)) -> Image.Image:
    """A noisy still that compresses like a photo: gradient, 40 shapes, grain."""
    rng = random.Random(index)
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(40):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        r = rng.randrange(30, 220)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rng.randrange(256) for _ in range(3)))
    grain = Image.effect_noise(size, 40).convert("RGB")
    return Image.blend(image.filter(ImageFilter.GaussianBlur(2)), grain, 0.12)


def script_for(seconds: float) -> Script:
    sentences = [
        f"Scene {n} shows how a small idea grows, step by step, into a story worth telling to everyone."
        for n in range(1, max(1, int(seconds / 5.4)) + 1)  # at least one
    ]
    paragraphs = tuple(" ".join(sentences[i : i + 6]) for i in range(0, len(sentences), 6))
    return Script(
        title="Benchmark: ten stills",
        language="en-US",
        generator="benchmark",
        sections=(Section(heading="All", paragraphs=paragraphs),),
    )


def moviepy_reference(inputs: RenderInputs, painter: Painter, seconds: float, out: Path) -> float:
    """The same timeline's first `seconds` through a plain MoviePy pipeline (the same painted
    pictures as ImageClips, the narration, MoviePy's defaults for libx264/AAC): its wall seconds."""
    import numpy
    from moviepy import AudioFileClip, ImageClip, concatenate_videoclips

    video = inputs.video
    plan = plan_render(inputs.cues, video.fps, len(inputs.backgrounds), video.title_card_s)
    card = painter.title_card(Image.open(inputs.backgrounds[0]).convert("RGB"), inputs.title)
    clips, covered = [], 0.0
    for segment in plan.segments:
        if covered >= seconds:
            break
        background = (
            card if segment.background == TITLE_CARD else Image.open(inputs.backgrounds[segment.background])
        )
        picture = numpy.asarray(painter.captioned(background.convert("RGB"), segment.caption))
        length = min(segment.frames / video.fps, seconds - covered)
        clips.append(ImageClip(picture).with_duration(length))
        covered += length
    began = time.perf_counter()
    clip = concatenate_videoclips(clips).with_audio(
        AudioFileClip(str(inputs.narration)).subclipped(0, covered)
    )
    clip.write_videofile(str(out), fps=video.fps, codec="libx264", audio_codec="aac", logger=None)
    return time.perf_counter() - began


async def main(
    seconds: float,
    name: str,
    reference_s: float,
    ken_burns: bool,
    bed: str | None,
    results: Path | None = RESULTS,
    work_dir: Path | None = None,
) -> dict[str, object]:
    """Measure, print and return the figures; save them to `<results>/<name>.json` unless `results`
    is None. The inputs and the video are made in `work_dir` (kept: `out/` holds the video), else in
    a temporary folder."""
    ffmpeg = ffmpeg_binary()
    folder = (
        contextlib.nullcontext(str(work_dir))
        if work_dir
        else tempfile.TemporaryDirectory(prefix="vfo-bench-")
    )
    with folder as tmp:
        work = Path(tmp)

        async def quiet(_: float, __: str) -> None:
            return None

        voice = VoicePreset(slug="en-US", voice="en-us")
        cues = await narrate(script_for(seconds), voice, EspeakEngine(), work / "narration.wav", quiet)
        backgrounds = []
        for n in range(10):  # as the render step keeps them: files of the video's size
            photo_like(n).save(work / f"{n}.ppm")
            backgrounds.append(work / f"{n}.ppm")
        preset = VideoPreset(slug="landscape-1080p30")
        renderer = Renderer(FFmpeg(ffmpeg), Painter(preset.width, preset.height))
        moves = {"ken_burns": True, "transition": "fade"} if ken_burns else {}
        effects = EffectsPreset(slug="bench", music=bed, **moves)
        # a built-in bed is made by the render step; here it is made before the clock starts
        music = write_bed(bed, work / "music.wav") if bed else None
        inputs = RenderInputs(
            "Benchmark: ten stills", cues, work / "narration.wav", backgrounds, preset, effects, music
        )
        (work / "out").mkdir()
        with PeakMemory() as memory:
            began = time.perf_counter()
            out = await renderer.render(inputs, work / "out", quiet)
            wall = time.perf_counter() - began
        result = {
            "what": "10 stills + narration -> 1080p30 H.264/AAC MP4, burned captions, production renderer"
            + (", Ken Burns push-ins and 0.5 s fades" if ken_burns else "")
            + (f", the built-in {bed} music ducked under the narration" if bed else ""),
            "narration_s": round(cues.duration, 2),
            "video_s": round(out.seconds, 2),
            "wall_s": round(wall, 2),
            "realtime_factor": round(out.seconds / wall, 2),
            "peak_rss_mb": memory.peak_mb,
            "distinct_stills": out.stills,
            "output_mb": round(out.video.stat().st_size / 2**20, 1),
            "machine": machine(ffmpeg),
        }
        if reference_s > 0:
            wall_reference = moviepy_reference(inputs, renderer.painter, reference_s, work / "reference.mp4")
            reference_rtf = reference_s / wall_reference
            result["moviepy_reference"] = {
                "video_s": reference_s,
                "wall_s": round(wall_reference, 2),
                "realtime_factor": round(reference_rtf, 3),
                "ours_faster_by": round(result["realtime_factor"] / reference_rtf, 1),  # type: ignore[operator]
            }
    for key, value in result.items():
        print(f"{key:>16}: {value}")
    if results is not None:
        print("saved", save(name, result, results))
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--name", default="render")
    parser.add_argument("--reference-seconds", type=float, default=30.0)
    parser.add_argument("--ken-burns", action="store_true", help="push-ins on every background, fades")
    parser.add_argument("--music", choices=MUSIC_BEDS, help="a built-in music bed under the narration")
    parser.add_argument("--no-save", action="store_true", help="print the figures, write no results file")
    args = parser.parse_args()
    results = None if args.no_save else RESULTS
    asyncio.run(main(args.seconds, args.name, args.reference_seconds, args.ken_burns, args.music, results))
