"""Music under the narration: the built-in beds, and the envelope that ducks the music while someone speaks.

A built-in bed is a 16-second loop made here (four chords, a soft pad and a bass; `bright` adds a
plucked arpeggio, `dark` a slow heartbeat), so a video can have music without an account, a download
or a licence question. Every frequency is a whole number of cycles over the loop, so it repeats
without a click.

Ducking is planned from the cues, not guessed from the sound: the music dips by `ducking_db` from a
little before each stretch of speech to a little after it, stays down through ordinary pauses, and
comes back up in long ones, at the title card's end and after the last word. The envelope (ducking,
a fade-in and a fade-out) is a low-rate WAV that FFmpeg multiplies into the music (`amultiply`).
"""

from __future__ import annotations

import math
import wave
from array import array
from dataclasses import dataclass
from pathlib import Path

from shared.config import MUSIC_BEDS
from shared.cues import Cues

SAMPLE_RATE = 48_000
LOOP_S = 16  # four chords of four seconds
ENVELOPE_RATE = 200  # envelope samples a second: FFmpeg resamples it smoothly to the music's rate
BRIDGE_S = 1.0  # speech with shorter gaps than this is one stretch: the music stays down
ATTACK_S = 0.3  # the music starts dipping this long before the voice
RELEASE_S = 0.8  # and takes this long to come back after it
FADE_IN_S = 1.0
FADE_OUT_S = 2.5


@dataclass(frozen=True)
class Style:
    chords: tuple[tuple[int, ...], ...]  # MIDI notes, one chord a bar
    pad: float = 1.0
    pluck: float = 0.0  # an eighth-note arpeggio of the chord at 120 bpm
    heartbeat: float = 0.0  # a low double thump each second


BEDS: dict[str, Style] = {
    # A minor - F - C - G: a neutral, unhurried pad for explainers and stories
    "calm": Style(((57, 60, 64, 69), (53, 57, 60, 65), (48, 55, 60, 64), (55, 59, 62, 67))),
    # C - G - A minor - F with a plucked arpeggio: for shorts and lighter topics
    "bright": Style(((60, 64, 67, 72), (55, 59, 62, 67), (57, 60, 64, 69), (53, 57, 60, 65)), 0.6, 0.5),
    # D minor - B flat - G minor - A: low and slow, with a pulse, for mysteries and drama
    "dark": Style(((50, 53, 57, 62), (46, 50, 53, 58), (43, 50, 55, 58), (45, 49, 52, 57)), 0.9, 0, 0.8),
}
assert set(BEDS) == set(MUSIC_BEDS)


def _hz(note: float) -> float:
    """The note's frequency, moved to a whole number of cycles over the loop (at most 1/32 Hz off)."""
    return round(440 * 2 ** ((note - 69) / 12) * LOOP_S) / LOOP_S


def write_bed(name: str, path: Path) -> Path:
    """The built-in bed `name` as a 16-bit stereo 48 kHz WAV loop."""
    import numpy as np  # only renders with a built-in bed pay for numpy

    style = BEDS[name]
    n = LOOP_S * SAMPLE_RATE
    t = np.arange(n) / SAMPLE_RATE
    out = np.zeros((2, n))
    half = LOOP_S / len(style.chords) / 2
    for index, chord in enumerate(style.chords):
        # the chord sounds over its bar and crossfades (1 s, equal power) into the next, around the loop
        distance = np.abs((t - (2 * index + 1) * half + LOOP_S / 2) % LOOP_S - LOOP_S / 2)
        weight = np.cos(np.clip(distance - (half - 0.5), 0, 1) * np.pi / 2)
        live = distance < half + 0.5
        tt = t[live]
        for channel, detune in enumerate((-0.06, 0.06)):  # semitones apart: a slow chorus, and width
            voice = np.zeros(tt.size)
            for note in chord:
                for harmonic, level in ((1, 1.0), (2, 0.25), (3, 0.08)):
                    voice += level * np.sin(2 * np.pi * _hz(note + detune) * harmonic * tt + channel)
            bass = np.sin(2 * np.pi * _hz(chord[0] - 12) * tt) + 0.3 * np.sin(2 * np.pi * _hz(chord[0]) * tt)
            out[channel, live] += weight[live] * (style.pad * voice / len(chord) + 0.5 * bass)
    out *= 1 + 0.12 * np.sin(2 * np.pi * t / 4)  # a slow swell, four to the loop
    for start, note, level, decay, side in _plucks(style):
        length = int(decay * 6 * SAMPLE_RATE)
        where = (int(start * SAMPLE_RATE) + np.arange(length)) % n  # a tail wraps to the loop's start
        local = np.arange(length) / SAMPLE_RATE
        sound = np.sin(2 * np.pi * _hz(note) * local) * np.exp(-local / decay) * level
        sound *= np.minimum(1, local / 0.004)  # no click at the onset
        for channel in (0, 1):
            np.add.at(out[channel], where, sound * (0.8 if channel == side else 0.6))
    out *= 0.5 / max(float(np.abs(out).max()), 1e-9)  # peaks at -6 dBFS; the level is set in the mix
    with wave.open(str(path), "wb") as sink:
        sink.setnchannels(2)
        sink.setsampwidth(2)
        sink.setframerate(SAMPLE_RATE)
        sink.writeframes((out.T * 32767).astype("<i2").tobytes())
    return path


def _plucks(style: Style) -> list[tuple[float, float, float, float, int]]:
    """(start s, MIDI note, level, decay s, the louder channel) of each plucked note and heartbeat
    thump in the loop."""
    out: list[tuple[float, float, float, float, int]] = []
    bar = LOOP_S / len(style.chords)
    for index, chord in enumerate(style.chords):
        if style.pluck:
            pattern = [*chord, chord[0] + 12, *reversed(chord[1:])]
            for k in range(int(bar / 0.25)):
                out.append((index * bar + k * 0.25, pattern[k % len(pattern)] + 12, style.pluck, 0.25, k % 2))
        if style.heartbeat:
            for beat in range(int(bar)):
                out.append((index * bar + beat, chord[0] - 12, style.heartbeat, 0.12, 0))
                out.append((index * bar + beat + 0.28, chord[0] - 12, style.heartbeat * 0.6, 0.1, 1))
    return out


def speech(cues: Cues) -> list[tuple[float, float]]:
    """The stretches of speech (start, end in seconds): words, joined across gaps under `BRIDGE_S`."""
    spans = sorted(
        (word.start, word.end) for cue in cues.cues for word in (cue.words or (cue,)) if word.end > word.start
    )
    out: list[tuple[float, float]] = []
    for start, end in spans:
        if out and start - out[-1][1] < BRIDGE_S:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def envelope(cues: Cues, seconds: float, ducking_db: float, rate: int = ENVELOPE_RATE) -> list[float]:
    """The music's gain, `rate` times a second over `seconds`: `ducking_db` down under speech (ramps
    in dB: `ATTACK_S` before it, `RELEASE_S` after it), faded in at the start and out at the end."""
    count = max(1, math.ceil(seconds * rate))
    depth = [0.0] * count  # how far down, as a fraction of the ducking
    for start, end in speech(cues):
        first, last = (
            max(0, math.floor((start - ATTACK_S) * rate)),
            min(count, math.ceil((end + RELEASE_S) * rate)),
        )
        for i in range(first, last):
            at = i / rate
            if at < start:
                down = 1 - (start - at) / ATTACK_S
            elif at > end:
                down = 1 - (at - end) / RELEASE_S
            else:
                down = 1.0
            depth[i] = max(depth[i], down)
    gains = []
    for i, down in enumerate(depth):
        at = i / rate
        fade = max(0.0, min(1.0, at / FADE_IN_S, (seconds - at) / FADE_OUT_S))
        gains.append(fade * 10 ** (ducking_db * down / 20))
    return gains


def write_envelope(gains: list[float], path: Path, rate: int = ENVELOPE_RATE) -> Path:
    """The envelope as a 16-bit mono WAV of `rate` samples a second."""
    samples = array("h", (round(gain * 32767) for gain in gains))
    with wave.open(str(path), "wb") as sink:
        sink.setnchannels(1)
        sink.setsampwidth(2)
        sink.setframerate(rate)
        sink.writeframes(samples.tobytes())
    return path
