"""Captions and subtitle files from a real narration by the offline voice (eSpeak NG, as the product
narrates without a neural voice): the words shown are the script's words as written, and the
subtitle files stay within two lines of 42 characters and 7 s a block."""

from __future__ import annotations

import re
from itertools import pairwise
from pathlib import Path

from services.tts.espeak import EspeakEngine
from services.tts.narrate import narrate
from shared.config import VoicePreset
from shared.cues import Cues
from shared.said import Said
from shared.script import Script, Section
from shared.subtitles import MAX_LINE, MAX_S, MIN_S
from tests.subtitle_text import subtitle_text

VOICE = VoicePreset(slug="en-US", voice="en-us")
YEAR = "In 1995, a well-known team counted 12,000 nests along the coast, about 45% of them empty."
LONG = (
    "The delta is one of the last places where the shorebirds of the whole northern coast still "
    "gather in their hundreds of thousands every spring, resting for a few days on the mudflats before "
    "the long flight to the Arctic, and nobody knows exactly how they find it again every year. "
    "It took the team three years. "
    "Nobody had tried it before, because the tides changed the shape of the land every single month, "
    "and the old maps, drawn in 1873 by a surveyor who never left his boat, were wrong about almost "
    "everything that mattered to the birds, from the channels they fed in to the banks they slept on."
)
STAMP = r"(\d\d):(\d\d):(\d\d)[,.](\d\d\d)"


async def _quiet(percent: float, line: Said) -> None:
    return None


async def _narrated(tmp_path: Path, *paragraphs: str) -> Cues:
    script = Script(
        title="The delta",
        language="en-US",
        generator="test",
        sections=(Section(heading="Birds", paragraphs=paragraphs),),
    )
    return await narrate(script, VOICE, EspeakEngine(), tmp_path / "narration.wav", _quiet)


def _seconds(match: re.Match[str]) -> float:
    hours, minutes, secs, ms = (int(g) for g in match.groups())
    return hours * 3600 + minutes * 60 + secs + ms / 1000


def _blocks(srt: str) -> list[tuple[float, float, list[str]]]:
    out = []
    for block in srt.strip().split("\n\n"):
        number, timing, *lines = block.split("\n")
        start, end = (_seconds(m) for m in re.finditer(STAMP, timing))
        out.append((start, end, lines))
        assert number == str(len(out))
    return out


async def test_a_year_read_out_by_the_offline_voice_is_one_caption_word(tmp_path: Path):
    # when eSpeak NG reads a sentence with a year, a large number, a percentage and a hyphenated word
    cues = await _narrated(tmp_path, YEAR)
    # then the cue's words are the sentence's words exactly as written, in order, each timed once
    (cue,) = (c for c in cues.cues if c.text == YEAR)
    assert [w.text for w in cue.words] == YEAR.split()
    assert [cue.text[w.offset :].startswith(w.text) for w in cue.words] == [True] * len(cue.words)
    assert all(a.end <= b.start + 1e-3 for a, b in zip(cue.words, cue.words[1:], strict=False))
    assert cue.start <= cue.words[0].start and cue.words[-1].end <= cue.end
    year, number = cue.words[1], cue.words[6]
    assert (year.text, number.text) == ("1995,", "12,000")
    # "nineteen ninety-five" takes longer to say than a one-syllable word: all of it is the year's
    assert year.end - year.start > 2 * (cue.words[2].end - cue.words[2].start)


async def test_subtitles_of_a_long_narration_are_readable_and_keep_every_word(tmp_path: Path):
    # given a narration with sentences of 200 characters and more, spoken by the offline voice
    cues = await _narrated(tmp_path, LONG)
    assert max(c.end - c.start for c in cues.cues) > 2 * MAX_S and max(len(c.text) for c in cues.cues) > 200
    # when the subtitle files are written
    srt, vtt = cues.to_srt(), cues.to_vtt()
    # then every block has at most two lines of at most 42 characters and lasts at most 7 s, and at
    # least 1 s unless its whole sentence is shorter
    shown = _blocks(srt)
    whole = {(round(c.start, 3), round(c.end, 3)) for c in cues.cues}
    for start, end, lines in shown:
        assert 1 <= len(lines) <= 2 and all(0 < len(line) <= MAX_LINE for line in lines), lines
        assert end - start <= MAX_S + 1e-3, (start, end, lines)
        assert end - start >= MIN_S - 1e-3 or (start, end) in whole, (start, end, lines)
    assert all(a[1] <= b[0] for a, b in pairwise(shown))
    # and no word is lost or repeated: the blocks read in order are the narration
    narration = " ".join(c.text for c in cues.cues)
    assert " ".join(line for _, _, lines in shown for line in lines) == narration == subtitle_text(vtt)
    # and the WebVTT file holds the same blocks
    same = [block.split("\n")[1:] for block in srt.strip().split("\n\n")]
    assert vtt.strip() == "WEBVTT\n\n" + "\n\n".join(
        "\n".join([timing.replace(",", "."), *lines]) for timing, *lines in same
    )
