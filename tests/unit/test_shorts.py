"""The shorts extractor: stretches of whole sentences, of the right length, never overlapping,
and cut (audio and cues) exactly on those boundaries."""

from __future__ import annotations

import itertools
import math
import struct
import wave
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from services.render import shorts
from shared.cues import Cue, Cues


def narration_of(lengths: list[float], gap: float = 0.3, sections_every: int = 4) -> Cues:
    cues, at = [Cue(index=0, section=0, text="The title.", start=0.0, end=2.0)], 2.0 + gap
    for n, length in enumerate(lengths, 1):
        cues.append(
            Cue(
                index=n,
                section=1 + (n - 1) // sections_every,
                text=f"Sentence {n}.",
                start=at,
                end=at + length,
            )
        )
        at += length + gap
    return Cues(language="en-US", voice="t", sample_rate=8000, duration=at, cues=tuple(cues))


@given(
    lengths=st.lists(st.floats(min_value=1.0, max_value=20.0), min_size=1, max_size=80),
    count=st.integers(min_value=1, max_value=5),
)
def test_stretches_start_and_end_on_sentence_boundaries_and_never_overlap(lengths: list[float], count: int):
    cues = narration_of(lengths)
    picked = shorts.choose(cues, count)
    assert len(picked) <= count
    starts = {c.start for c in cues.cues[1:]}
    ends = {c.end for c in cues.cues[1:]}
    for stretch in picked:
        assert stretch.start in starts and stretch.end in ends  # whole sentences only
        assert stretch.first >= 1  # never the spoken title
        assert 15.0 <= stretch.seconds <= 59.0
    for before, after in itertools.pairwise(picked):
        assert before.end <= after.start


def test_section_openings_near_forty_seconds_are_preferred():
    cues = narration_of([10.0] * 16)  # sections of four 10-s sentences
    picked = shorts.choose(cues, 2)
    assert [(s.first, s.last) for s in picked] == [(1, 4), (5, 8)]  # 4 sentences: 40.9 s, a section each


def test_a_cut_keeps_the_samples_and_retimes_the_cues(tmp_path: Path):
    cues = narration_of([10.0] * 8)
    wav = tmp_path / "n.wav"
    with wave.open(str(wav), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(
            b"".join(struct.pack("<h", int(1000 * math.sin(n / 5))) for n in range(int(cues.duration * 8000)))
        )
    stretch = shorts.choose(cues, 1)[0]
    cut = shorts.cut(cues, wav, stretch, tmp_path / "s.wav")
    assert cut.cues[0].start == 0.0 and abs(cut.duration - stretch.seconds) < 1 / 8000
    assert [c.text for c in cut.cues] == [c.text for c in cues.cues[stretch.first : stretch.last + 1]]
    with wave.open(str(wav)) as whole, wave.open(str(tmp_path / "s.wav")) as part:
        whole.setpos(round(stretch.start * 8000))
        assert part.readframes(part.getnframes()) == whole.readframes(part.getnframes())


def test_a_narration_too_short_for_any_short_gives_none():
    assert shorts.choose(narration_of([3.0, 4.0]), 3) == []
