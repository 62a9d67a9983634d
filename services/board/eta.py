"""ETA from measured history, scaled by the length of what a step works on.

The script step scales with the brief (characters); narration and render scale with the script
(words). For every (step, recipe, video preset) a least-squares line `seconds = a + b * size` is
fitted to past runs. Before a job's script exists, its length is estimated from the brief with the
words-per-character ratio past scripts had. Fewer than two distinct sizes: the mean.

The running step also measures itself: `elapsed * (100 - percent) / percent`. That rate is used when
history is thin (fewer than `TRUSTED_RUNS` runs) or already overrun; a step with neither a usable
history nor a measurable rate yet, running or still to come, makes the ETA unknown (None): the board
shows no ETA rather than a wrong one (the first render of a recipe once said "about 1 s left" for a
minute, a default minus the time spent, floored).

A job's ETA reads an `EtaInput` (its row's few columns and its steps), never its whole state.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.db import tables as t
from shared.jobstate import JobState, StepState
from shared.pipeline import COLUMN_ORDER, PIPELINE, RUNNING_STATES, Column, Pipeline, Step, StepSpec

DEFAULT_WORDS_PER_CHAR = 0.25
TRUSTED_RUNS = 3  # fewer past runs than this: the running step's own rate is preferred
RATE_MIN_PERCENT = 2.0  # below this (or this soon), a step's progress says nothing about its pace yet
RATE_MIN_ELAPSED_S = 2.0
MIN_SHOWN_S = 1.0  # less than this left is not shown (see eta_seconds)


@dataclass(frozen=True)
class Fit:
    a: float
    b: float
    runs: int = 1

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
        return Fit((sy - b * sx) / n, b, int(n))
    return Fit(sy / n, 0.0, int(n))


HISTORY_TTL_S = 5.0
_recent: weakref.WeakKeyDictionary[AsyncEngine, tuple[float, History]] = weakref.WeakKeyDictionary()


async def recent_history(engine: AsyncEngine, conn: AsyncConnection) -> History:
    """`load_history`, at most `HISTORY_TTL_S` old: it aggregates every run ever recorded, and the
    board asks for it on every update of a running card, while it changes only as steps finish."""
    now = time.monotonic()
    cached = _recent.get(engine)
    if cached is not None and now - cached[0] < HISTORY_TTL_S:
        return cached[1]
    history = await load_history(conn)
    _recent[engine] = (now, history)
    return history


def history_changed(engine: AsyncEngine) -> None:
    """Steps finished and their runs are recorded: the next `recent_history` reads them at once (a
    job's first ETA should not wait out the cache's age with nothing to show)."""
    _recent.pop(engine, None)


async def load_history(conn: AsyncConnection) -> History:
    h = t.step_history.c
    x = case((h.step == Step.SCRIPT, h.size), else_=h.words)  # what each step scales with
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
            select(func.sum(h.size), func.sum(h.words)).where(h.step == Step.SCRIPT, h.words.is_not(None))
        )
    ).one()
    ratio = float(words) / float(chars) if chars and words else DEFAULT_WORDS_PER_CHAR
    return History(fits, ratio)


@dataclass(frozen=True)
class EtaInput:
    """What the ETA of one job reads: a few columns of its row and its steps (`of_state` builds it
    from a folded JobState)."""

    state: str | None
    auto_video: bool
    target: Column | None
    brief_chars: int
    recipe: str | None  # None: the job has no config snapshot (yet)
    video_preset: str | None
    pipeline: Pipeline = PIPELINE
    steps: Mapping[str, StepState] = field(default_factory=dict)

    @classmethod
    def of_state(cls, state: JobState) -> EtaInput:
        config = state.config
        return cls(
            state=state.state,
            auto_video=state.auto_video,
            target=state.target,
            brief_chars=len(state.brief),
            recipe=config.recipe.slug if config else None,
            video_preset=config.video.slug if config else None,
            pipeline=state.pipeline,
            steps=state.steps,
        )

    def step(self, name: str) -> StepState:
        return self.steps.get(name) or StepState()


def _remaining(job: EtaInput) -> list[StepSpec]:
    """The steps this job will still run without anyone touching it."""
    todo = [spec for spec in job.pipeline if not job.step(spec.name).done]
    if job.auto_video:
        return todo
    limit = COLUMN_ORDER.index(job.target) if job.target else 0
    return [spec for spec in todo if COLUMN_ORDER.index(spec.column) <= limit]


def _running_left(fit: Fit | None, predicted: float | None, step: StepState, now: datetime) -> float | None:
    """Seconds the running step still needs: from history while it is trusted and not overrun, else
    from the step's own progress rate; None when neither says anything yet."""
    assert step.started_at is not None
    elapsed = max(0.0, (now - step.started_at).total_seconds())
    by_history = predicted - elapsed if predicted is not None and predicted > elapsed else None
    measurable = step.percent >= RATE_MIN_PERCENT and elapsed >= RATE_MIN_ELAPSED_S
    by_rate = elapsed * (100.0 - min(step.percent, 100.0)) / step.percent if measurable else None
    if by_history is not None and (by_rate is None or (fit is not None and fit.runs >= TRUSTED_RUNS)):
        return by_history
    return by_rate


def eta_seconds(job: EtaInput, history: History, now: datetime) -> float | None:
    """Seconds until the job reaches where it is going; None when nothing is running, or when a step
    left has no history and (running) no measurable pace yet."""
    if job.state not in RUNNING_STATES or job.recipe is None or job.video_preset is None:
        return None
    chars = float(job.brief_chars)
    words = job.step(Step.SCRIPT).metrics.get("words") or chars * history.words_per_char
    total = 0.0
    for spec in _remaining(job):
        fit = history.fits.get((spec.name, job.recipe, job.video_preset))
        predicted = fit.predict(chars if spec.name == Step.SCRIPT else words) if fit else None
        current = job.step(spec.name)
        if current.status == "running" and current.started_at is not None:
            predicted = _running_left(fit, predicted, current, now)
        if predicted is None:
            return None
        total += predicted
    # under a second left and still running: the last part (saving, muxing) is slower than the pace
    # promised; "about 0 s left" for seconds on end is the wrong ETA the board must not show
    return round(total, 1) if total >= MIN_SHOWN_S else None
