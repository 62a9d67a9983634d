"""Word timings joined back into the script's words: a caption never shows "1" and then "995"."""

from __future__ import annotations

from itertools import pairwise

import pytest

from services.tts.align import Heard, align

SENTENCE = "In 1995, Dr. Smith moved to the U.S. with a well-known café owner."
WRITTEN = SENTENCE.split()


def said(words: str, step: float = 0.3) -> list[Heard]:
    """A text-only engine (as Azure's word boundaries): each word it says, one after another."""
    return [Heard(n * step, n * step + 0.25, text=word) for n, word in enumerate(words.split())]


def test_espeak_offsets_join_the_events_of_one_written_word():
    # given eSpeak NG's word events for the sentence, as the library reports them (offset, start):
    # three events point into "1995", one into "U.S." and one into "well-known"
    events = [(0, 0.0), (3, 0.136), (4, 1.06), (4, 1.434), (9, 2.052), (13, 2.443), (19, 2.747)]
    events += [(25, 3.106), (28, 3.26), (32, 3.392), (37, 3.694), (42, 3.862), (44, 3.935)]
    events += [(55, 4.418), (60, 4.799)]
    heard = [
        Heard(at, events[n + 1][1] if n + 1 < len(events) else 5.2, offset=offset)
        for n, (offset, at) in enumerate(events)
    ]
    # when
    words = align(SENTENCE, heard, 0.0, 5.2)
    # then every written word is shown once, as written, timed from its first event to its last
    assert [w.text for w in words] == WRITTEN
    year = words[1]
    assert (year.text, year.start, year.end, year.offset) == ("1995,", 0.136, 2.052, 3)
    assert [SENTENCE[w.offset :].startswith(w.text) for w in words] == [True] * len(WRITTEN)


def test_an_engine_that_reads_the_year_out_is_joined_back_into_the_year():
    # given an engine that says "nineteen ninety five" for 1995, "Doctor" for "Dr." and splits the
    # abbreviation and the hyphenated word
    heard = said("In nineteen ninety five Doctor Smith moved to the U S with a well known cafe owner")
    # when
    words = align(SENTENCE, heard, 0.0, 6.0)
    # then
    assert [w.text for w in words] == WRITTEN
    by_text = {w.text: w for w in words}
    assert (by_text["1995,"].start, by_text["1995,"].end) == (pytest.approx(0.3), pytest.approx(1.15))
    assert (by_text["Dr."].start, by_text["Dr."].end) == (pytest.approx(1.2), pytest.approx(1.45))
    assert (by_text["U.S."].start, by_text["U.S."].end) == (pytest.approx(2.7), pytest.approx(3.25))
    assert (by_text["well-known"].start, by_text["well-known"].end) == (
        pytest.approx(3.9),
        pytest.approx(4.45),
    )
    assert all(a.end <= b.start for a, b in pairwise(words))


def test_two_numbers_in_a_row_share_the_words_between_them_in_order():
    heard = said("about twelve thousand people nineteen forty five")
    words = align("About 12,000 people, 1945.", heard, 0.0, 3.0)
    assert [(w.text, w.start, w.end) for w in words] == [
        ("About", 0.0, 0.25),
        ("12,000", 0.3, 0.85),
        ("people,", 0.9, 1.15),
        ("1945.", 1.2, 2.05),
    ]


def test_a_word_the_engine_skipped_is_still_shown_sharing_the_time_before_it():
    heard = said("the big cat")  # "black" was not reported
    words = align("The big black cat.", heard, 0.0, 1.0)
    assert [w.text for w in words] == ["The", "big", "black", "cat."]
    big, black = words[1], words[2]
    assert big.start == pytest.approx(0.3) and big.end == black.start and black.end == pytest.approx(0.55)


def test_punctuation_on_its_own_and_stage_directions_are_not_words():
    text = "It cost $5 — a lot [pause] (really)."
    heard = said("It cost five dollars a lot really")
    words = align(text, heard, 0.0, 3.0, skip=[(text.index("[pause]"), text.index("[pause]") + 7)])
    assert [w.text for w in words] == ["It", "cost", "$5", "a", "lot", "(really)."]
    assert words[2].start == pytest.approx(0.6) and words[2].end == pytest.approx(1.15)


def test_a_sentence_the_engine_gave_no_words_for_is_spread_over_its_audio_by_length():
    words = align("Two words.", [], 1.0, 2.0)
    assert [(w.text, w.start, w.end) for w in words] == [("Two", 1.0, 1.375), ("words.", 1.375, 2.0)]
