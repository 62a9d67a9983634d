"""The voice engines' word timings joined back into the words of the script.

An engine times what it *says*, not what is written: eSpeak NG reports "1995" as three word events
("nineteen", "ninety", "five", all pointing into "1995"), "U.S." as one; a neural voice may say
"Doctor" for "Dr." or split "well-known" in two. A caption must show the script's words exactly as
written, so each written word (a run of text between spaces, with its punctuation) gets the
timing of the engine words it covers:

- when the engine says where each word starts in the sentence (eSpeak NG), by that offset;
- otherwise (Azure's word boundaries), by a monotone alignment of normalised words: the longest
  run of matches in order (equal, part of a joined word, or an abbreviation), and the words between
  two matches shared out in order, in proportion to their length.

A written word the engine did not time shares the time of the word before it. Text that is not
spoken (punctuation on its own, a stage direction in `skip`) is not a word.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from shared.cues import Word

__all__ = ["Heard", "align", "written_words"]


@dataclass(frozen=True)
class Heard:
    """One word the engine spoke: its time, and what it said or where in the sentence it starts."""

    start: float
    end: float
    text: str = ""
    offset: int = -1  # in the sentence's characters; -1 when the engine does not say


def _spoken(token: str) -> bool:
    """A letter, a digit or a symbol that is read out ($, %, &, €) makes a token a word."""
    return any(ch.isalnum() or unicodedata.category(ch).startswith("S") for ch in token)


def written_words(text: str, skip: Sequence[tuple[int, int]] = ()) -> list[tuple[int, str]]:
    """The sentence's words as (offset, text), exactly as written, outside the `skip` spans."""
    out, at = [], 0
    for token in text.split():
        offset = text.index(token, at)
        at = offset + len(token)
        if _spoken(token) and not any(a <= offset < b for a, b in skip):
            out.append((offset, token))
    return out


def _norm(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if ch.isalnum())


def _matches(heard: str, written: str) -> bool:
    if not heard or not written:
        return False
    if heard == written or (len(heard) > 1 and heard in written):  # "well" of "well-known"
        return True
    # an abbreviation: the written letters, in order, in the spoken word ("Dr." -> "doctor")
    if len(written) > 1 and written.isalpha() and written[0] == heard[0]:
        rest = iter(heard)
        return all(ch in rest for ch in written)
    return False


def _weight(word: str) -> int:
    """Roughly how long a written word takes to say: a digit is read as a few syllables."""
    return sum(4 if ch.isdigit() else 1 for ch in _norm(word)) or 1


def _by_offset(words: list[tuple[int, str]], heard: Sequence[Heard]) -> list[int]:
    owners, last = [], 0
    for word in heard:
        owner = next(
            (n for n, (at, text) in enumerate(words) if word.offset < at + len(text)), len(words) - 1
        )
        last = max(last, owner)  # in reading order, even if the engine steps back
        owners.append(last)
    return owners


def _anchors(words: list[str], heard: list[str]) -> list[tuple[int, int]]:
    """(heard, written) pairs of the best monotone alignment; a written word may take several."""
    m, n = len(heard), len(words)
    # best[i][j]: matches among heard[i:] with the path standing at written word j
    best = [[0] * (n + 1) for _ in range(m + 1)]
    for i in range(m - 1, -1, -1):
        for j in range(n - 1, -1, -1):
            best[i][j] = max(best[i][j + 1], best[i + 1][j] + _matches(heard[i], words[j]))
    pairs, i, j = [], 0, 0
    while i < m and j < n:
        if _matches(heard[i], words[j]) and best[i][j] == best[i + 1][j] + 1:
            pairs.append((i, j))
            i += 1
        elif best[i][j] == best[i][j + 1]:
            j += 1
        else:
            i += 1
    return pairs


def _share(count: int, weights: list[int]) -> list[int]:
    """`count` heard words given in order to written words of these weights: each written word
    gets at least one when there are enough, the rest in proportion to its weight."""
    total, bounds, acc = sum(weights), [], 0
    for w in weights:
        acc += w
        bounds.append(acc / total)
    owners: list[int] = []
    for i in range(count):
        middle = (i + 0.5) / count
        want = next(k for k, b in enumerate(bounds) if middle <= b or k == len(bounds) - 1)
        if count >= len(weights):
            previous = owners[-1] if owners else -1
            want = max(want, len(weights) - (count - i), previous)
            want = min(want, previous + 1)
        owners.append(max(want, owners[-1] if owners else 0))
    return owners


def _by_text(words: list[tuple[int, str]], heard: Sequence[Heard]) -> list[int]:
    written = [_norm(t) for _, t in words]
    said = [_norm(h.text) for h in heard]
    anchors = _anchors(written, said)
    owners = [-1] * len(heard)
    for i, j in anchors:
        owners[i] = j
    ends = [(-1, -1), *anchors, (len(heard), len(words))]
    for (i0, j0), (i1, j1) in pairwise(ends):
        gap = list(range(i0 + 1, i1))
        free = list(range(j0 + 1, j1))
        if not gap:
            continue
        if not free:  # said more than is written here: the word being spoken takes it
            for i in gap:
                owners[i] = j0 if j0 >= 0 else min(j1, len(words) - 1)
            continue
        shared = _share(len(gap), [_weight(words[j][1]) for j in free])
        for i, k in zip(gap, shared, strict=True):
            owners[i] = free[k]
    return owners


def align(
    text: str, heard: Sequence[Heard], start: float, end: float, skip: Sequence[tuple[int, int]] = ()
) -> tuple[Word, ...]:
    """The sentence's written words, each timed by the engine words it covers (`start`, `end`:
    the sentence's audio, for words the engine did not time at all)."""
    words = written_words(text, skip)
    if not words:
        return ()
    spoken = [h for h in heard if h.text.strip() or h.offset >= 0]
    if spoken and all(h.offset >= 0 for h in spoken):
        owners = _by_offset(words, spoken)
    else:
        owners = _by_text(words, spoken)
    spans: list[tuple[float, float] | None] = [None] * len(words)
    for owner, h in zip(owners, spoken, strict=True):
        span = spans[owner]
        spans[owner] = (min(span[0], h.start), max(span[1], h.end)) if span else (h.start, h.end)
    return _timed(words, spans, start, end)


def _timed(
    words: list[tuple[int, str]], spans: list[tuple[float, float] | None], start: float, end: float
) -> tuple[Word, ...]:
    """Words without a time share the time of the timed word before them (or after, at the start),
    in proportion to their length."""
    groups: list[list[int]] = []
    for n, span in enumerate(spans):
        if span is not None or not groups:
            groups.append([n])
        else:
            groups[-1].append(n)
    if len(groups) > 1 and spans[groups[0][0]] is None:  # untimed words first: they join the next
        groups[1:2] = [groups[0] + groups[1]]
        del groups[0]
    out = []
    for group in groups:
        timed = next((spans[n] for n in group if spans[n] is not None), None)
        begin, until = timed or (start, end)
        weights = [_weight(words[n][1]) for n in group]
        at = begin
        for n, weight in zip(group, weights, strict=True):
            after = at + (until - begin) * weight / sum(weights)
            offset, text = words[n]
            out.append(Word(text=text, start=round(at, 3), end=round(max(at, after), 3), offset=offset))
            at = after
    return tuple(out)
