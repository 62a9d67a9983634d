"""Subtitle blocks a person can read, cut from the narration's cues at their word timings.

A cue is a spoken sentence, which may run to 200 characters and 14 s. Subtitle style guides ask for
far less on screen at once; we follow the Netflix Timed Text Style Guide (General Requirements and
English (USA)): at most two lines of at most 42 characters, an event shown at most 7 s and at least
5/6 s (we keep 1 s wherever the speech allows it), and lines broken at natural points, after
punctuation and not after a short function word (the BBC Subtitle Guidelines ask the same). A block
never cuts a word, and the blocks' text, read in order, is the cue's text.

Each block is shown from its first word's start to the next block's first word (the last one to
the cue's end), so the blocks of a sentence follow one another without gaps or overlaps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.cues import Cue

__all__ = ["MAX_LINE", "MAX_LINES", "MAX_S", "MIN_S", "Block", "blocks"]

MAX_LINE = 42  # characters a line
MAX_LINES = 2
MAX_S = 7.0
MIN_S = 1.0
_CLOSING = ".!?…"
_PAUSING = ",;:)]\"'”’—–"


@dataclass(frozen=True)
class Block:
    start: float
    end: float
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return " ".join(self.lines)


def _pieces(cue: Cue) -> list[tuple[str, float]]:
    """The cue's text cut before each word, with the word's start (the first from the cue's start).
    Without usable word timings, its words are timed by their position in the text."""
    offsets = [w.offset for w in cue.words]
    if offsets and all(a < b for a, b in zip([-1, *offsets], [*offsets, len(cue.text)], strict=True)):
        # only where a word begins after a space (cues narrated before the engine's words were
        # joined into written words may hold "1" and "995" for "1995")
        cuts = [(0, cue.start)] + [
            (w.offset, w.start) for w in cue.words[1:] if cue.text[w.offset - 1].isspace()
        ]
        ends = [at for at, _ in cuts[1:]] + [len(cue.text)]
        return [
            (" ".join(cue.text[a:b].split()), max(cue.start, t)) for (a, t), b in zip(cuts, ends, strict=True)
        ]
    words = cue.text.split()
    total = max(1, sum(len(w) + 1 for w in words))
    out, done = [], 0
    for word in words:
        out.append((word, cue.start + (cue.end - cue.start) * done / total))
        done += len(word) + 1
    return out


def _break_cost(before: str) -> float:
    """How unnatural a break after this word is."""
    if before[-1:] in _CLOSING:
        return 0
    if before[-1:] in _PAUSING:
        return 1
    return 8 if len(before) <= 3 else 5  # "the", "of", "a": keep them with what follows


def _layout(words: list[str]) -> tuple[float, tuple[str, ...]] | None:
    """The words on one line, or on two (best break first), or None when they do not fit."""
    line = " ".join(words)
    if len(line) <= MAX_LINE:
        return 0.0, (line,)
    best: tuple[float, tuple[str, ...]] | None = None
    for cut in range(1, len(words)):
        top, bottom = " ".join(words[:cut]), " ".join(words[cut:])
        if len(top) > MAX_LINE or len(bottom) > MAX_LINE:
            continue
        # a bottom-heavy pair of lines reads best; a top-heavy one costs a little more
        cost = _break_cost(words[cut - 1]) + abs(len(top) - len(bottom)) / 16 + (len(top) > len(bottom))
        if best is None or cost < best[0]:
            best = (cost, (top, bottom))
    return best


def blocks(cue: Cue) -> list[Block]:
    """The cue as subtitle blocks within the bounds above, breaking where it reads best."""
    pieces = [(text, at) for text, at in _pieces(cue) if text]
    if not pieces:
        return []
    n = len(pieces)
    times = [at for _, at in pieces] + [cue.end]
    # best[a]: the cheapest way to show pieces[a:], as (cost, end of the first block, its lines)
    best: list[tuple[float, int, tuple[str, ...]]] = [(0.0, n, ())] * (n + 1)
    for a in range(n - 1, -1, -1):
        options = []
        for b in range(a + 1, n + 1):
            shown = times[b] - times[a]
            laid = _layout([text for text, _ in pieces[a:b]])
            if b > a + 1 and (laid is None or shown > MAX_S):
                break  # longer blocks only get longer
            lines = laid[1] if laid else (" ".join(text for text, _ in pieces[a:b]),)
            # a block costs a little (fewer, fuller blocks), a break where the sentence runs on
            # three times more than a break between its lines, a flash under MIN_S far more
            cost = 3 + (laid[0] if laid else 50) + (3 * _break_cost(pieces[b - 1][0]) if b < n else 0)
            cost += 100 if shown < MIN_S else 0
            options.append((cost + best[b][0], b, lines))
        best[a] = min(options, key=lambda option: option[0])
    out, a = [], 0
    while a < n:
        _, b, lines = best[a]
        out.append(Block(round(times[a], 3), round(times[b], 3), lines))
        a = b
    return out
