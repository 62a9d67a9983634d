"""ETA from measured history, scaled by the length of what a step works on.

The script step scales with the brief (characters); narration and render scale with the script
(words). For every (step, recipe, video preset) a least-squares line `seconds = a + b * size` is
fitted to past runs. Before a job's script exists, its length is estimated from the brief with the
words-per-character ratio past scripts had. Fewer than two distinct sizes: the mean; no history: a
conservative default per step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db import tables as t
from shared.jobstate import COLUMN_ORDER, STEP_COLUMN, JobState, JobStateName
from shared.names import STEPS

DEFAULT_S = {"script": 2.0, "tts": 5.0, "render": 15.0}
DEFAULT_WORDS_PER_CHAR = 0.25


@dataclass(frozen=True)
class Fit:
    a: float
    b: float

    def predict(self, size: float) -> float:
        return max(0.1, self.a + self.b * size)


@dataclass(frozen=True)
class History:
    fits: dict[tuple[str, str, str], Fit] = field(default_factory=dict)
    words_per_char: float = DEFAULT_WORDS_PER_CHAR


def _fit(n: float, sx: float, sy: float, sxx: float, sxy: float) -> Fit:
    spread = n * sxx - sx * sx
    if n >= 2 and spread > 1e-9:
        b = max(0.0, (n * sxy - sx * sy) / spread)
        return Fit((sy - b * sx) / n, b)
    return Fit(sy / n, 0.0)


async def load_history(conn: AsyncConnection) -> History:
    h = t.step_history.c
    x = case((h.step == "script", h.size), else_=h.words)  # what each step scales with
    rows = await conn.execute(
        select(
            h.step,
            h.recipe,
            h.video_preset,
            func.count(),
            func.sum(x),
            func.sum(h.duration_s),
            func.sum(x * x),
            func.sum(x * h.duration_s),
        )
        .where(x.is_not(None))
        .group_by(h.step, h.recipe, h.video_preset)
    )
    fits = {(step, recipe, preset): _fit(*map(float, sums)) for step, recipe, preset, *sums in rows}
    chars, words = (
        await conn.execute(
            select(func.sum(h.size), func.sum(h.words)).where(h.step == "script", h.words.is_not(None))
        )
    ).one()
    ratio = float(words) / float(chars) if chars and words else DEFAULT_WORDS_PER_CHAR
    return History(fits, ratio)


def _remaining(state: JobState) -> list[str]:
    """The steps this job will still run without anyone touching it."""
    todo = [s for s in STEPS if state.step(s).status not in ("completed", "skipped")]
    if state.auto_video:
        return todo
    limit = COLUMN_ORDER.index(state.target) if state.target else 0
    return [s for s in todo if COLUMN_ORDER.index(STEP_COLUMN[s]) <= limit]


def eta_seconds(state: JobState, history: History, now: datetime) -> float | None:
    """Seconds until the job reaches where it is going; None when nothing is running."""
    if state.state not in (JobStateName.SCRIPTING, JobStateName.TTS_RUNNING, JobStateName.RENDER_RUNNING):
        return None
    if state.config is None:
        return None
    chars = float(len(state.brief))
    words = state.step("script").metrics.get("words") or chars * history.words_per_char
    total = 0.0
    for step in _remaining(state):
        fit = history.fits.get((step, state.config.recipe.slug, state.config.video.slug))
        predicted = fit.predict(chars if step == "script" else words) if fit else DEFAULT_S[step]
        current = state.step(step)
        if current.status == "running" and current.started_at is not None:
            predicted = max(predicted - (now - current.started_at).total_seconds(), 0.5)
        total += predicted
    return round(total, 1)
