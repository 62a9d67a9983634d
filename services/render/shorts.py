"""Shorts cut from a long-form narration: N stretches that start and end on sentence boundaries.

`choose` is a pure function of the cues. A stretch starts where a sentence starts and ends where a
sentence ends (never mid-word), lasts between `shortest` and `longest` seconds, never includes the
spoken title, and no two overlap. Among the candidates it prefers stretches that start a section
(a natural opening) and last close to `ideal`, earlier ones first. `cut` gives
one stretch's narration and cues, re-timed to start at zero.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

from shared.cues import Cue, Cues, Word


@dataclass(frozen=True)
class Stretch:
    first: int  # index of the first cue
    last: int  # index of the last cue (inclusive)
    start: float  # seconds
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


def candidates(cues: Cues, shortest: float, longest: float) -> list[Stretch]:
    """Every run of whole sentences of acceptable length (the spoken title left out)."""
    spoken = [n for n, cue in enumerate(cues.cues) if cue.section != 0]
    out = []
    for at, first in enumerate(spoken):
        for last in spoken[at:]:
            start, end = cues.cues[first].start, cues.cues[last].end
            if end - start > longest:
                break
            if end - start >= shortest:
                out.append(Stretch(first, last, start, end))
    return out


def choose(
    cues: Cues, count: int, shortest: float = 15.0, longest: float = 59.0, ideal: float = 40.0
) -> list[Stretch]:
    """Up to `count` non-overlapping stretches, in the order they occur in the video."""
    found = candidates(cues, shortest, longest)
    opens_section = {n for n, cue in enumerate(cues.cues) if n and cue.section != cues.cues[n - 1].section}

    def score(stretch: Stretch) -> tuple[bool, float, float]:
        return (stretch.first not in opens_section, round(abs(stretch.seconds - ideal), 1), stretch.start)

    picked: list[Stretch] = []
    for stretch in sorted(found, key=score):
        if len(picked) == count:
            break
        if all(stretch.last < other.first or stretch.first > other.last for other in picked):
            picked.append(stretch)
    return sorted(picked, key=lambda s: s.start)


def _retimed(cue: Cue, index: int, offset: float) -> Cue:
    words = tuple(
        Word(text=w.text, start=w.start - offset, end=w.end - offset, offset=w.offset) for w in cue.words
    )
    return Cue(
        index=index,
        section=cue.section,
        text=cue.text,
        start=cue.start - offset,
        end=cue.end - offset,
        words=words,
    )


def cut(cues: Cues, narration: Path, stretch: Stretch, out: Path) -> Cues:
    """Write the stretch's narration to `out` (a WAV slice, samples copied) and return its cues,
    timed from zero."""
    with wave.open(str(narration), "rb") as source:
        rate, width = source.getframerate(), source.getsampwidth() * source.getnchannels()
        first, last = round(stretch.start * rate), round(stretch.end * rate)
        source.setpos(min(first, source.getnframes()))
        samples = source.readframes(max(0, last - first))
        with wave.open(str(out), "wb") as sink:
            sink.setparams(source.getparams())
            sink.writeframes(samples)
    chosen = cues.cues[stretch.first : stretch.last + 1]
    return Cues(
        language=cues.language,
        voice=cues.voice,
        sample_rate=cues.sample_rate,
        duration=round(len(samples) / (rate * width), 6),
        cues=tuple(_retimed(cue, n, stretch.start) for n, cue in enumerate(chosen)),
    )
