"""`plan_render`: the video's timeline as a pure function of the narration cues.

The video is a run of still segments, each (frames, background, caption). The title card covers
the spoken title; backgrounds change on sentence boundaries, evenly spread; captions follow the
cues, split by word timings into readable chunks ("lines"), or, for vertical video, shown a few
large words at a time with the word being spoken picked out ("words"). Frame counts add up
exactly to the narration's length, so the video and the audio end together; an end card, when
the preset asks for one, follows (and the audio is padded to it).

`shots` turns the timeline into what is encoded: one picture per shot, followed by frames that
repeat it or, under a Ken Burns push-in, move it; a fade between backgrounds is a run of
one-frame shots, each a blend of the two.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from itertools import pairwise
from typing import Literal

from shared.cues import Cue, Cues

TITLE_CARD = -1
END_CARD = -2  # after the narration: the title again over the last background, for end-screen elements
MAX_CAPTION_WORDS = 12
MAX_BIG_WORDS = 3  # "words" captions: at most this many words on screen
CaptionStyle = Literal["lines", "words", "off"]
Still = tuple[int, str | None, int]  # (background, caption, highlighted word or -1)


@dataclass(frozen=True)
class Caption:
    text: str
    start: int  # frame
    end: int  # frame, exclusive
    highlight: int = -1  # which of the text's words is being spoken ("words" captions)


@dataclass(frozen=True)
class Segment:
    frames: int
    background: int  # index into the backgrounds, or TITLE_CARD / END_CARD
    caption: str | None
    highlight: int = -1

    @property
    def still(self) -> Still:
        return (self.background, self.caption, self.highlight)


@dataclass(frozen=True)
class RenderPlan:
    fps: int
    total_frames: int
    segments: tuple[Segment, ...]
    spans: tuple[tuple[int, int], ...] = ()  # each background's first frame and end (exclusive)
    end_card: int = 0  # frames of the end card, the plan's last

    def stills(self) -> list[Still]:
        """The distinct pictures to paint, in order of first appearance."""
        return list(dict.fromkeys(s.still for s in self.segments))


@dataclass(frozen=True)
class View:
    """What one encoded picture shows: a still, at a frame of its background's push-in (-1: none)."""

    still: Still
    at: int = -1


@dataclass(frozen=True)
class Shot:
    """One encoded picture (`view`, over `under` by `mix` during a fade) and the frames that follow
    it: `frames` in all, moving with the push-in when `moving`, else repeating it."""

    view: View
    frames: int
    moving: bool = False
    under: View | None = None
    mix: float = 1.0

    @property
    def picture(self) -> tuple[View, View | None, float]:
        return (self.view, self.under, self.mix)


def _chunks(cue: Cue) -> list[tuple[str, float, float]]:
    """A cue as caption chunks of at most MAX_CAPTION_WORDS words, timed by its words."""
    words = cue.words
    if len(words) <= MAX_CAPTION_WORDS:
        return [(cue.text, cue.start, cue.end)]
    count = -(-len(words) // MAX_CAPTION_WORDS)
    size = -(-len(words) // count)
    out = []
    for first in range(0, len(words), size):
        following = words[first + size] if first + size < len(words) else None
        # slice the sentence itself, so punctuation and hyphens stay as written
        text = cue.text[words[first].offset if first else 0 : following.offset if following else None].strip()
        out.append(
            (text, words[first].start if first else cue.start, following.start if following else cue.end)
        )
    return out


def _big_words(cue: Cue, fps: int) -> list[Caption]:
    """A cue as groups of up to MAX_BIG_WORDS words (a group also ends after punctuation), one
    caption per spoken word, each picking that word out of its group."""
    words = cue.words
    groups: list[list[int]] = [[]]
    for n, word in enumerate(words):
        groups[-1].append(n)
        written = cue.text[word.offset : words[n + 1].offset if n + 1 < len(words) else None]
        if len(groups[-1]) == MAX_BIG_WORDS or written.rstrip()[-1:] in ".,;:!?":
            groups.append([])
    out = []
    for group in (g for g in groups if g):
        base = words[group[0]].offset
        after = group[-1] + 1
        text = cue.text[base : words[after].offset if after < len(words) else None].strip()
        for n in group:
            start = words[n].start if n else cue.start
            end = words[n + 1].start if n + 1 < len(words) else cue.end
            first, last = round(start * fps), round(end * fps)
            if last > first:
                highlight = len(cue.text[base : words[n].offset].split())
                out.append(Caption(text, first, last, highlight))
    return out


def captions(cues: Cues, fps: int, skip_first: bool, style: CaptionStyle = "lines") -> list[Caption]:
    out: list[Caption] = []
    if style == "off":  # the subtitle files are still written; the picture stays clean
        return out
    for cue in cues.cues[1 if skip_first else 0 :]:
        if style == "words" and cue.words:
            out += _big_words(cue, fps)
            continue
        for text, start, end in _chunks(cue):
            first, last = round(start * fps), round(end * fps)
            if last > first:
                out.append(Caption(text, first, last))
    return out


def _title_end(cues: Cues, fps: int, title_card_s: float, total: int) -> int:
    """The title card's end: when the spoken title ends, else after `title_card_s`."""
    first = cues.cues[0] if cues.cues else None
    title_end = round(first.end * fps) if first and first.section == 0 else round(title_card_s * fps)
    return max(1, min(title_end, total))


def _scene_starts(cues: Cues, fps: int, begin: int, total: int, scenes: tuple[int, ...]) -> list[int]:
    """Frames where each background starts at the person's scene markers (cue indexes): the first
    after the title card, then one at each marked sentence."""
    marked = {c.index for c in cues.cues} & set(scenes)
    frames = sorted({round(c.start * fps) for c in cues.cues if c.index in marked})
    return [begin, *(f for f in frames if begin < f < total)]


def _background_starts(cues: Cues, fps: int, begin: int, total: int, count: int) -> list[int]:
    """Frames where each background starts: evenly spread, snapped to the nearest sentence start."""
    sentence_starts = sorted(
        {round(c.start * fps) for c in cues.cues if begin < round(c.start * fps) < total}
    )
    starts = [begin]
    for index in range(1, count):
        ideal = begin + (total - begin) * index // count
        candidate = min(sentence_starts, key=lambda f: abs(f - ideal), default=ideal)
        if candidate <= starts[-1]:
            candidate = ideal
        if candidate > starts[-1]:
            starts.append(candidate)
    return starts


def plan_render(
    cues: Cues,
    fps: int,
    backgrounds: int,
    title_card_s: float,
    style: CaptionStyle = "lines",
    end_card: int = 0,
    scenes: tuple[int, ...] = (),
) -> RenderPlan:
    """The timeline; with `end_card` frames, an end card follows the narration. With `scenes` (the
    cue indexes a person marked), the backgrounds change exactly there, one for each scene (a
    marker the narration has no sentence for is left out): `scene_count` says how many."""
    total = max(1, round(cues.duration * fps))
    first = cues.cues[0] if cues.cues else None
    title_end = _title_end(cues, fps, title_card_s, total)
    lines = captions(cues, fps, skip_first=first is not None and first.section == 0, style=style)
    lines.sort(key=lambda c: c.start)
    line_starts = [c.start for c in lines]
    if title_end >= total:
        starts = []
    elif scenes:
        starts = _scene_starts(cues, fps, title_end, total, scenes)[: max(1, backgrounds)]
    else:
        starts = _background_starts(cues, fps, title_end, total, max(1, backgrounds))
    spans = tuple(zip(starts, [*starts[1:], total], strict=True))
    cuts = {0, title_end, total, *starts}
    for caption in lines:
        cuts.update((min(caption.start, total), min(caption.end, total)))
    edges = sorted(c for c in cuts if 0 <= c <= total)
    segments: list[Segment] = []
    for left, right in pairwise(edges):
        if left < title_end:
            key: Still = (TITLE_CARD, None, -1)
        else:
            background = bisect_right(starts, left) - 1
            at = bisect_right(line_starts, left) - 1  # the last caption to start by `left`
            shown = lines[at] if at >= 0 and left < lines[at].end else None
            key = (background, shown.text, shown.highlight) if shown else (background, None, -1)
        if segments and segments[-1].still == key:
            segments[-1] = Segment(segments[-1].frames + right - left, *key)
        else:
            segments.append(Segment(right - left, *key))
    if end_card > 0:
        segments.append(Segment(end_card, END_CARD, None))
    return RenderPlan(
        fps=fps, total_frames=total + end_card, segments=tuple(segments), spans=spans, end_card=end_card
    )


def shots(
    plan: RenderPlan,
    ken_burns: bool = False,
    fade: int = 0,
    refresh: int = 15,
    clips: frozenset[int] = frozenset(),
) -> list[Shot]:
    """The plan as encoded pictures and what follows them.

    A background in `clips` is a video: every frame of its span is a picture of its own (the clip's
    frame `at` frames into the span), with no push-in.

    With `ken_burns`, every background pushes in over its span: a picture of the exact zoom starts
    each segment and comes again every `refresh` frames, and the frames between move. With `fade`
    (frames), each change of background (the title card's end too) is a cross-fade of that many
    frames centred on the change, shortened to half of the shorter side."""
    owner: list[int] = []  # the segment showing each frame
    for n, segment in enumerate(plan.segments):
        owner += [n] * segment.frames
    spans = dict(enumerate(plan.spans))

    def view(segment: int, frame: int) -> View:
        still = plan.segments[segment].still
        if still[0] in clips:
            return View(still, frame - spans[still[0]][0])
        if not ken_burns or still[0] < 0:  # the cards stay still
            return View(still)
        return View(still, max(0, frame - spans[still[0]][0]))

    fading: dict[int, tuple[int, int, float]] = {}  # frame -> (segment before, segment after, mix)
    ends = [plan.total_frames - plan.end_card, plan.total_frames] if plan.end_card else [plan.total_frames]
    edges = [0, *(start for start, _ in plan.spans), *ends]
    for before, change, after in zip(edges, edges[1:], edges[2:], strict=False):
        length = min(fade, (change - before) // 2, (after - change) // 2)
        first = change - length // 2
        for n in range(length):
            fading[first + n] = (owner[change - 1], owner[change], (n + 1) / (length + 1))
    out: list[Shot] = []
    frame = 0
    for n, segment in enumerate(plan.segments):
        end = frame + segment.frames
        while frame < end:
            if frame in fading:
                was, now, mix = fading[frame]
                out.append(Shot(view(now, frame), 1, under=view(was, frame), mix=mix))
                frame += 1
                continue
            run = end - frame
            if segment.background in clips:
                run = 1
            elif ken_burns and segment.background >= 0:
                run = min(run, refresh)
            run = next((f - frame for f in range(frame, frame + run) if f in fading), run)
            moving = view(n, frame).at >= 0 and segment.background not in clips
            out.append(Shot(view(n, frame), run, moving=moving))
            frame += run
    return out


def scene_count(cues: Cues, fps: int, title_card_s: float, scenes: tuple[int, ...]) -> int:
    """How many backgrounds the person's scene markers ask for (as `plan_render` places them)."""
    total = max(1, round(cues.duration * fps))
    title_end = _title_end(cues, fps, title_card_s, total)
    return len(_scene_starts(cues, fps, title_end, total, scenes)) if title_end < total else 1
