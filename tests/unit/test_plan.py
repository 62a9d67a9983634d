"""The render plan: exact frame counts, captions on cue boundaries, a title card first."""

from __future__ import annotations

from services.render.plan import END_CARD, TITLE_CARD, Segment, plan_render, scene_count, shots
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


def test_word_captions_show_a_few_words_and_pick_out_the_one_being_spoken():
    narration = cues([(0.0, 2.0, "The title."), (2.0, 8.0, "One two three four, five six.")])
    plan = plan_render(narration, 30, 1, 3.0, style="words")
    shown = [(s.caption, s.highlight) for s in plan.segments if s.caption]
    assert shown == [
        ("One two three", 0),
        ("One two three", 1),
        ("One two three", 2),
        ("four,", 0),  # a comma ends a group: words of one phrase stay together
        ("five six.", 0),
        ("five six.", 1),
    ]
    # each word's picture starts when the word is spoken, and the frames still add up exactly
    frame, starts = 0, []
    for segment in plan.segments:
        if segment.caption:
            starts.append(frame)
        frame += segment.frames
    assert starts == [60, 90, 120, 150, 180, 210] and frame == plan.total_frames == 240
    assert len(plan.stills()) == 1 + 6


def test_the_lines_style_is_unchanged_by_the_words_style():
    assert plan_render(NARRATION, 30, 2, 3.0) == plan_render(NARRATION, 30, 2, 3.0, style="lines")


def test_shots_without_effects_are_the_segments():
    plan = plan_render(NARRATION, 30, 2, 2.0)
    timeline = shots(plan)
    assert [(s.view.still, s.frames) for s in timeline] == [(s.still, s.frames) for s in plan.segments]
    assert not any(s.moving or s.under for s in timeline)


def test_push_ins_come_back_to_an_exact_picture_every_refresh():
    plan = plan_render(NARRATION, 30, 2, 2.0)
    timeline = shots(plan, ken_burns=True, refresh=15)
    assert sum(s.frames for s in timeline) == plan.total_frames
    frame = 0
    for shot in timeline:
        if shot.view.still[0] == TITLE_CARD:
            assert not shot.moving and shot.view.at == -1  # the title stays put
        else:
            assert shot.moving and 1 <= shot.frames <= 15
            start = plan.spans[shot.view.still[0]][0]
            assert shot.view.at == frame - start  # the picture of the zoom at this very frame
        frame += shot.frames


def test_fades_blend_the_two_backgrounds_across_each_change():
    plan = plan_render(NARRATION, 30, 2, 2.0)
    timeline = shots(plan, fade=10)
    assert sum(s.frames for s in timeline) == plan.total_frames
    fading = [s for s in timeline if s.under is not None]
    assert len(fading) == 2 * 10  # title card -> first background, first -> second
    first = fading[:10]
    assert [s.mix for s in first] == sorted(s.mix for s in first)
    assert all(0 < s.mix < 1 and s.frames == 1 for s in fading)
    assert first[0].under.still[0] == TITLE_CARD and first[0].view.still[0] == 0
    change = plan.spans[1][0]
    frame = 0
    for shot in timeline:  # the second fade is centred on the change of background
        if shot.under is not None and shot.under.still[0] == 0:
            assert change - 5 <= frame < change + 5
        frame += shot.frames


def test_an_end_card_follows_the_narration_still_and_faded_into():
    plan = plan_render(NARRATION, 30, 2, 2.0, end_card=8 * 30)
    narration = round(9.9 * 30)
    assert plan.total_frames == narration + 240 == sum(s.frames for s in plan.segments)
    assert plan.segments[-1] == Segment(240, END_CARD, None)  # no caption on it
    assert plan.spans[-1][1] == narration  # the last picture's span ends with the narration
    timeline = shots(plan, ken_burns=True, fade=10, refresh=15)
    assert sum(s.frames for s in timeline) == plan.total_frames
    cards = [s for s in timeline if s.view.still[0] == END_CARD]
    assert not any(s.moving for s in cards)  # the card does not push in
    fading_in = [s for s in cards if s.under is not None]
    assert len(fading_in) == 10 and fading_in[0].under.still[0] == 1  # from the last picture
    assert cards[-1].under is None and cards[-1].frames > 200  # then it holds
    assert plan_render(NARRATION, 30, 2, 2.0).total_frames == narration  # none unless asked


def test_the_pictures_change_exactly_at_the_persons_scene_markers():
    # given five sentences after the title, and markers at sentences 2 and 5 (and 9, not spoken)
    many = cues(
        [(0.0, 1.0, "Title.")] + [(1.0 + 2 * n, 2.8 + 2 * n, f"Sentence number {n}.") for n in range(1, 6)]
    )
    scenes = (2, 5, 9)
    # when the render plans them
    count = scene_count(many, 30, 3.0, scenes)
    plan = plan_render(many, 30, count, 3.0, scenes=scenes)
    # then there are three backgrounds: after the title card, at sentence 2 and at sentence 5
    assert count == 3
    assert [start for start, _ in plan.spans] == [30, round(5.0 * 30), round(11.0 * 30)]
    # and without markers the same backgrounds are spread evenly, elsewhere
    even = plan_render(many, 30, count, 3.0)
    assert [start for start, _ in even.spans] != [start for start, _ in plan.spans]


def test_captions_off_leave_the_pictures_clean_and_the_timeline_whole():
    plan = plan_render(NARRATION, 30, 2, 3.0, style="off")
    assert not [s for s in plan.segments if s.caption]
    assert sum(s.frames for s in plan.segments) == plan.total_frames == round(9.9 * 30)
    assert plan.spans == plan_render(NARRATION, 30, 2, 3.0).spans  # the backgrounds change as before
