"""The render plan: exact frame counts, captions on cue boundaries, a title card first."""

from __future__ import annotations

from services.render.plan import TITLE_CARD, plan_render
from shared.cues import Cue, Cues, Word


def cues(sentences: list[tuple[float, float, str]]) -> Cues:
    items = []
    for index, (start, end, text) in enumerate(sentences):
        words = []
        offset = 0
        step = (end - start) / max(1, len(text.split()))
        for n, word in enumerate(text.split()):
            offset = text.index(word, offset)
            words.append(
                Word(text=word.strip(",."), start=start + n * step, end=start + (n + 1) * step, offset=offset)
            )
            offset += len(word)
        items.append(
            Cue(
                index=index,
                section=0 if index == 0 else 1,
                text=text,
                start=start,
                end=end,
                words=tuple(words),
            )
        )
    return Cues(
        language="en-US", voice="en-us", sample_rate=22050, duration=sentences[-1][1], cues=tuple(items)
    )


NARRATION = cues(
    [(0.0, 2.0, "The title."), (2.5, 6.0, "First sentence here."), (6.4, 9.9, "Second, and last.")]
)


def test_frames_add_up_to_the_narration():
    plan = plan_render(NARRATION, 30, 2, 3.0)
    assert sum(s.frames for s in plan.segments) == plan.total_frames == round(9.9 * 30)


def test_the_title_card_covers_the_spoken_title():
    plan = plan_render(NARRATION, 30, 2, 3.0)
    assert plan.segments[0].background == TITLE_CARD
    assert plan.segments[0].frames == 60


def test_captions_start_and_end_on_cue_boundaries():
    plan = plan_render(NARRATION, 30, 1, 3.0)
    frame, edges = 0, {}
    for segment in plan.segments:
        if segment.caption:
            edges.setdefault(segment.caption, [frame, frame + segment.frames])
            edges[segment.caption][1] = frame + segment.frames
        frame += segment.frames
    assert edges == {"First sentence here.": [75, 180], "Second, and last.": [192, 297]}


def test_backgrounds_change_on_a_sentence_start():
    plan = plan_render(NARRATION, 30, 2, 3.0)
    frame, starts = 0, {}
    for segment in plan.segments:
        starts.setdefault(segment.background, frame)
        frame += segment.frames
    assert starts[1] in (75, 192)


def test_long_sentences_become_several_captions_with_their_punctuation():
    text = "One, two, three, four, five, six, seven, eight, nine, ten, eleven, twelve, thirteen, fourteen."
    plan = plan_render(cues([(0, 1, "T."), (1, 8, text)]), 30, 1, 3.0)
    shown = [s.caption for s in plan.segments if s.caption]
    assert len(shown) == 2
    assert " ".join(shown) == text


def test_hostile_text_passes_through_untouched():
    hostile = 'It\'s "50%" off: [a]=b; {c}, d\\e -> %{pts}'
    plan = plan_render(cues([(0, 1, "T."), (1, 3, hostile)]), 30, 1, 3.0)
    assert hostile in [s.caption for s in plan.segments]
