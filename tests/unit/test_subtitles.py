"""Subtitle files a person can read: a long sentence becomes blocks of at most two lines of at most
42 characters, shown at most 7 s, cut at its word timings and never inside a word."""

from __future__ import annotations

from itertools import pairwise

from shared.cues import Cue, Cues, Word
from shared.subtitles import MAX_LINE, MAX_S, MIN_S, blocks

LONG = (
    "Nobody had tried it before, because the tides changed the shape of the land every single month, "
    "and the old maps, drawn in 1873 by a surveyor who never left his boat, were wrong about almost "
    "everything that mattered to the birds."
)


def cue(text: str, start: float, seconds_a_word: float = 0.33, words: bool = True) -> Cue:
    timed, at = [], 0
    for n, token in enumerate(text.split()):
        at = text.index(token, at)
        begin = start + n * seconds_a_word
        timed.append(Word(text=token, start=round(begin, 3), end=round(begin + seconds_a_word, 3), offset=at))
        at += len(token)
    end = round(start + len(timed) * seconds_a_word, 3)
    return Cue(index=0, section=1, text=text, start=start, end=end, words=tuple(timed) if words else ())


def test_a_long_sentence_becomes_readable_blocks_that_keep_every_word():
    # given a 229-character sentence spoken over 13 s (the issue saw cues of 214 characters and 14 s)
    sentence = cue(LONG, 2.0)
    assert len(LONG) == 229 and sentence.end - sentence.start > 13
    # when
    shown = blocks(sentence)
    # then
    assert len(shown) > 2
    for block in shown:
        assert 1 <= len(block.lines) <= 2 and all(len(line) <= MAX_LINE for line in block.lines)
        assert MIN_S <= block.end - block.start <= MAX_S
    assert " ".join(b.text for b in shown) == LONG
    assert shown[0].start == sentence.start and shown[-1].end == sentence.end
    assert all(a.end == b.start for a, b in pairwise(shown))
    starts = {w.start for w in sentence.words}
    assert all(b.start in starts for b in shown)  # cut at word timings


def test_blocks_end_after_punctuation_where_they_can():
    shown = blocks(cue(LONG, 0.0))
    ends = [b.lines[-1][-1] for b in shown]
    assert sum(mark in ",.;" for mark in ends) >= len(ends) - 1


def test_a_short_sentence_is_one_line():
    shown = blocks(cue("It took them three years.", 1.0))
    assert [(b.lines, b.start, b.end) for b in shown] == [(("It took them three years.",), 1.0, 2.65)]


def test_a_cue_without_word_timings_is_still_cut_within_the_bounds():
    sentence = cue(LONG, 0.0, words=False)
    shown = blocks(sentence)
    assert " ".join(b.text for b in shown) == LONG
    assert all(len(line) <= MAX_LINE for b in shown for line in b.lines)
    assert all(b.end - b.start <= MAX_S for b in shown)


def test_the_files_carry_the_blocks_with_their_lines():
    told = (cue("The delta.", 0.0), cue(LONG, 1.0))
    cues = Cues(language="en-US", voice="en-us", sample_rate=22050, duration=told[-1].end, cues=told)
    srt, vtt = cues.to_srt(), cues.to_vtt()
    count = len(cues.subtitles())
    assert srt.startswith("1\n00:00:00,000 --> 00:00:00,660\nThe delta.\n")
    assert f"\n{count}\n" in srt and f"\n{count + 1}\n" not in srt
    assert vtt.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:00.660\nThe delta.\n")
    assert max(len(line) for line in srt.splitlines()) <= MAX_LINE
    assert vtt.count(" --> ") == count


def test_a_cue_narrated_before_words_were_joined_is_never_cut_inside_a_word():
    # given a cues.json of an older narration, with "1995" timed as "1" and "995"
    text = "In 1995, the delta flooded."
    old = [("In", 0), ("1", 3), ("995,", 4), ("the", 9), ("delta", 13), ("flooded.", 19)]
    words = tuple(Word(text=t, start=n * 0.4, end=n * 0.4 + 0.4, offset=at) for n, (t, at) in enumerate(old))
    # when
    (block,) = blocks(Cue(index=1, section=1, text=text, start=0.0, end=2.4, words=words))
    # then
    assert block.lines == (text,)
