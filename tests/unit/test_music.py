"""The music's ducking envelope, planned from the cues (no FFmpeg): down under speech, up in long
pauses, ramps before and after, faded in and out."""

from __future__ import annotations

import itertools

import pytest
from pydantic import ValidationError

from services.render import music
from shared.config import EffectsPreset
from shared.cues import Cue, Cues, Word
from shared.options import JobOptions

RATE = music.ENVELOPE_RATE


def _cues(*words: tuple[float, float], duration: float = 20.0) -> Cues:
    return Cues(
        language="en-US",
        voice="test",
        sample_rate=24_000,
        duration=duration,
        cues=(
            Cue(
                index=0,
                section=1,
                text="x",
                start=words[0][0],
                end=words[-1][1],
                words=tuple(Word(text="x", start=s, end=e) for s, e in words),
            ),
        ),
    )


def test_speech_is_joined_across_short_gaps_only():
    cues = _cues((1.0, 1.5), (1.8, 2.5), (2.6, 4.0), (6.0, 7.0))
    assert music.speech(cues) == [(1.0, 4.0), (6.0, 7.0)]  # 0.3 s and 0.1 s gaps joined, 2 s not


def test_a_cue_without_word_timings_counts_as_speech_whole():
    cues = Cues(
        language="en-US",
        voice="v",
        sample_rate=24_000,
        duration=9.0,
        cues=(Cue(index=0, section=1, text="x", start=2.0, end=5.0),),
    )
    assert music.speech(cues) == [(2.0, 5.0)]


def test_the_envelope_ducks_under_speech_and_recovers_in_a_long_pause():
    gains = music.envelope(_cues((3.0, 6.0), (12.0, 15.0)), 20.0, -12.0)
    at = lambda seconds: gains[round(seconds * RATE)]  # noqa: E731
    ducked = 10 ** (-12 / 20)
    assert len(gains) == 20 * RATE
    assert at(0.0) == 0 and at(0.5) == pytest.approx(0.5)  # fading in from silence
    assert at(2.0) == pytest.approx(1.0)  # before the attack
    assert ducked < at(3.0 - music.ATTACK_S / 2) < 1  # dipping ahead of the voice
    assert at(3.0) == at(4.5) == at(6.0) == pytest.approx(ducked)
    assert ducked < at(6.0 + music.RELEASE_S / 2) < 1  # coming back
    assert at(9.0) == pytest.approx(1.0)  # a 6-second pause: the music is back up
    assert at(13.5) == pytest.approx(ducked)
    assert at(19.0) < 1 and gains[-1] < 0.01  # faded out by the end
    assert all(0 <= gain <= 1 for gain in gains)


def test_the_envelope_has_no_jumps():
    gains = music.envelope(_cues((0.5, 1.0), (2.5, 3.0), (4.1, 9.0)), 12.0, -20.0)
    steps = [abs(b - a) for a, b in itertools.pairwise(gains)]
    assert max(steps) < 0.05  # 1/200 s apart: the steepest ramp moves a few percent a sample


def test_music_choices_are_checked_and_name_the_fix():
    assert JobOptions(music="none").music == "none"
    assert EffectsPreset(slug="x", music="a" * 32).music == "a" * 32
    for bad in ("jazz", "../../etc/passwd", "A" * 32, "https://example.com/song.mp3"):
        with pytest.raises(ValidationError, match="the id of an audio upload"):
            JobOptions(music=bad)
    with pytest.raises(ValidationError, match="calm, bright, dark, or the id"):
        EffectsPreset(slug="x", music="none")  # a preset says no music by leaving it out
