"""Music under the narration, rendered for real: looped, faded in, ducked under speech by the
preset's depth and back up in a pause, and the mix at -14 LUFS in stereo; and an end card after
the narration, with the music playing on and fading out."""

from __future__ import annotations

import dataclasses
import math
import subprocess
import wave
from pathlib import Path

import av
import numpy as np
from PIL import Image

from services.render.ffmpeg import FFmpeg, ffmpeg_binary
from services.render.music import write_bed
from services.render.paint import Painter
from services.render.renderer import Renderer, RenderInputs
from shared.config import EffectsPreset, VideoPreset
from shared.cues import Cue, Cues, Word
from tests.e2e.probe import loudness, probe

VIDEO = VideoPreset(slug="small", width=320, height=180, fps=30, title_card_s=0.5)
SPEECH = ((1.0, 4.0), (8.0, 11.0))  # a 4-second pause between the two
VOICE_HZ, MUSIC_HZ = 1000, 200


async def _quiet(percent: float, message: str = "", *, log: bool = False) -> None:
    return None


def _wav(path: Path, rate: int, channels: int, samples: np.ndarray) -> Path:
    with wave.open(str(path), "wb") as sink:
        sink.setnchannels(channels)
        sink.setsampwidth(2)
        sink.setframerate(rate)
        sink.writeframes((samples * 32767).astype("<i2").tobytes())
    return path


def _mp3_with_cover(wav: Path) -> Path:
    """`wav` as an MP3 with cover art (a picture stream the renderer must leave alone)."""
    Image.new("RGB", (64, 64), (200, 0, 0)).save(wav.with_suffix(".png"))
    mp3 = wav.with_suffix(".mp3")
    maps = [
        "-map",
        "0:a",
        "-map",
        "1:v",
        "-c:a",
        "libmp3lame",
        "-c:v",
        "mjpeg",
        "-disposition:v",
        "attached_pic",
    ]
    subprocess.run(
        [ffmpeg_binary(), "-v", "error", "-i", str(wav), "-i", str(wav.with_suffix(".png")), *maps, str(mp3)],
        check=True,
    )
    return mp3


def tone_narration(
    folder: Path, seconds: float, speech: tuple[tuple[float, float], ...], hz: int = VOICE_HZ
) -> tuple[Path, Cues]:
    """A narration that is a tone wherever its cues (a word each) say someone speaks."""
    rate = 24_000
    t = np.arange(int(rate * seconds)) / rate
    speaking = np.zeros_like(t, dtype=bool)
    for start, end in speech:
        speaking |= (t >= start) & (t < end)
    narration = _wav(folder / "n.wav", rate, 1, 0.3 * np.sin(2 * np.pi * hz * t) * speaking)
    cues = Cues(
        language="en-US",
        voice="test",
        sample_rate=rate,
        duration=seconds,
        cues=tuple(
            Cue(
                index=n, section=n + 1, text="la la", start=a, end=b, words=(Word(text="la", start=a, end=b),)
            )
            for n, (a, b) in enumerate(speech)
        ),
    )
    return narration, cues


def _inputs(tmp_path: Path, effects: EffectsPreset, music: Path | None) -> RenderInputs:
    narration, cues = tone_narration(tmp_path, 12.0, SPEECH)
    Image.new("RGB", (320, 180), (40, 60, 90)).save(tmp_path / "0.ppm")
    return RenderInputs("Music", cues, narration, [tmp_path / "0.ppm"], VIDEO, effects, music)


def _level(samples: np.ndarray, rate: int, hz: int, start: float, end: float) -> float:
    """The amplitude (dBFS) of the `hz` tone in one stretch of the left channel."""
    part = samples[0, int(start * rate) : int(end * rate)]
    window = np.hanning(part.size)
    power = np.abs(np.fft.rfft(part * window)) ** 2
    freqs = np.fft.rfftfreq(part.size, 1 / rate)
    band = power[(freqs > hz - 10) & (freqs < hz + 10)].sum()
    return 10 * math.log10(4 * float(band) / (part.size * float((window**2).sum())) + 1e-12)  # Parseval


async def test_music_is_ducked_under_speech_and_the_mix_is_at_minus_14_lufs(tmp_path: Path):
    rate = 48_000
    t = np.arange(rate * 5) / rate  # a 5-second track: the 12-second video loops it
    tone = 0.4 * np.sin(2 * np.pi * MUSIC_HZ * t)
    _wav(tmp_path / "music.wav", rate, 2, np.stack([tone, tone], 1))
    music = _mp3_with_cover(tmp_path / "music.wav")  # as people have music
    effects = EffectsPreset(slug="music", music_volume_db=-8, ducking_db=-12)
    (tmp_path / "out").mkdir()
    renderer = Renderer(FFmpeg(ffmpeg_binary()), Painter(320, 180))
    out = await renderer.render(_inputs(tmp_path, effects, music), tmp_path / "out", _quiet)

    facts = probe(out.video)
    assert facts.audio_codec == "aac" and abs(facts.audio_s - 12.0) < 0.1, facts
    assert abs(loudness(out.video) + 14) <= 1.0, loudness(out.video)
    with av.open(str(out.video)) as container:
        stream = container.streams.audio[0]
        assert (stream.codec_context.channels, stream.codec_context.sample_rate) == (2, rate)
        samples = np.concatenate([frame.to_ndarray() for frame in container.decode(stream)], axis=1)

    free = _level(samples, rate, MUSIC_HZ, 5.5, 7.3)  # the pause: released by 4.8 s, dips from 7.7 s
    under = [_level(samples, rate, MUSIC_HZ, start + 0.3, end - 0.3) for start, end in SPEECH]
    for level in under:  # measured: -12.0 and -12.0 dB
        assert abs(level - free + 12) <= 1.0, (free, under)
    looped = _level(samples, rate, MUSIC_HZ, 11.5 - 2.5, 11.5 - 1.0)  # past the file's end, still there
    assert looped > free - 20
    assert _level(samples, rate, MUSIC_HZ, 0.0, 0.25) < free - 12  # faded in from silence
    # the music sits 8 LU under the narration where nobody speaks. Integrated loudness also counts
    # the voice's onsets and ends, so its steady tone is a little above that (measured: 10.4 dB apart)
    voice = _level(samples, rate, VOICE_HZ, 2.0, 3.5)
    assert 6 <= voice - free <= 11, (free, voice)
    # and without music the same narration stays mono at its own rate
    plain = await Renderer(FFmpeg(ffmpeg_binary()), Painter(320, 180)).render(
        _inputs(tmp_path, EffectsPreset(slug="none"), None), tmp_path / "out", _quiet
    )
    with av.open(str(plain.video)) as container:
        assert container.streams.audio[0].codec_context.channels == 1


async def test_a_built_in_bed_is_a_seamless_loop_at_a_measurable_level(tmp_path: Path):
    ffmpeg = FFmpeg(ffmpeg_binary())
    for name in ("calm", "bright", "dark"):
        path = write_bed(name, tmp_path / f"{name}.wav")
        with wave.open(str(path)) as source:
            assert (source.getnchannels(), source.getframerate()) == (2, 48_000)
            assert source.getnframes() == 16 * 48_000
            samples = np.frombuffer(source.readframes(source.getnframes()), "<i2").reshape(-1, 2) / 32767
        assert 0.45 < np.abs(samples).max() <= 0.51  # peaks at -6 dBFS
        biggest_step = np.abs(np.diff(samples, axis=0)).max()
        assert np.abs(samples[0] - samples[-1]).max() <= biggest_step  # no click where it repeats
        assert -24 < await ffmpeg.music_loudness(path) < -10


async def test_an_end_card_follows_the_narration_with_the_music_fading_out(tmp_path: Path):
    rate = 48_000
    t = np.arange(rate * 5) / rate
    tone = 0.4 * np.sin(2 * np.pi * MUSIC_HZ * t)
    music = _wav(tmp_path / "music.wav", rate, 2, np.stack([tone, tone], 1))
    inputs = _inputs(tmp_path, EffectsPreset(slug="music"), music)
    video = VIDEO.model_copy(update={"end_card_s": 3.0, "end_card_text": "Thanks for watching"})
    inputs = dataclasses.replace(inputs, video=video)
    (tmp_path / "out").mkdir()
    painter = Painter(320, 180)
    out = await Renderer(FFmpeg(ffmpeg_binary()), painter).render(inputs, tmp_path / "out", _quiet)

    facts = probe(out.video)
    assert facts.frames == 15 * 30 and abs(facts.audio_s - 15.0) < 0.1, facts  # 12 s + 3 s
    with av.open(str(out.video)) as container:
        last = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)][-1]
        container.seek(0)
        samples = np.concatenate([frame.to_ndarray() for frame in container.decode(audio=0)], axis=1)
    with Image.open(tmp_path / "0.ppm") as background:
        expected = np.asarray(painter.title_card(background.convert("RGB"), "Thanks for watching"))
    assert np.abs(last.astype(int) - expected.astype(int)).mean() < 4  # the end card, not the picture
    free = _level(samples, rate, MUSIC_HZ, 5.5, 7.3)
    assert _level(samples, rate, MUSIC_HZ, 12.0, 12.4) > free - 6  # the music plays on under the card
    assert _level(samples, rate, MUSIC_HZ, 14.8, 15.0) < free - 15  # and has faded out by its end
    assert _level(samples, rate, VOICE_HZ, 12.5, 14.5) < -60  # the voice has finished
