"""ETA from history: a line fitted to (brief length, seconds) per step, minus the time already spent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.board.eta import EtaInput, Fit, History
from services.board.eta import eta_seconds as eta_of_input
from shared import commands as cmd
from shared.decide import decide
from shared.jobstate import Column, JobState, evolve
from shared.pipeline import PIPELINE
from tests.unit.test_machine import apply, created

DEFAULT_S = {spec.name: spec.eta_s for spec in PIPELINE}


def eta_seconds(state: JobState, history: History, now: datetime) -> float | None:
    return eta_of_input(EtaInput.of_state(state), history, now)


def test_fit_predicts_on_a_line_and_never_below_a_tenth():
    assert Fit(2.0, 0.5).predict(10) == 7.0
    assert Fit(-5.0, 0.0).predict(1) == 0.1


def test_eta_sums_the_steps_left_minus_time_spent_in_the_running_one():
    # given a job running its script for 3 s, with history for every step
    state = apply(created(), cmd.MoveToColumn(column=Column.ROTEIRO))
    started = datetime(2026, 1, 1, tzinfo=UTC)
    for event in decide(state, cmd.StartStep(step="script", attempt=1, worker="w")):
        state = evolve(state, event.model_copy(update={"occurred_at": started}))
    fits = {(s, "narrated-story", "landscape-1080p30"): Fit(10.0, 0.0) for s in ("script", "tts", "render")}
    # when / then: 7 s of script left, then 10 + 10
    assert eta_seconds(state, History(fits), started + timedelta(seconds=3)) == 27.0


def test_narration_and_render_scale_with_the_script_estimated_from_the_brief_until_it_exists():
    # given history where narration takes 0.1 s a word and scripts have 0.5 words per brief character
    state = apply(created(), cmd.MoveToColumn(column=Column.NARRACAO))  # brief "B." is 2 characters
    fits = {("tts", "narrated-story", "landscape-1080p30"): Fit(0.0, 0.1)}
    history = History(fits, words_per_char=0.5)
    # then before the script exists, tts is predicted for 1 word; script and render use the defaults
    assert eta_seconds(state, history, datetime.now(UTC)) == DEFAULT_S["script"] + 0.1 + DEFAULT_S["render"]


def test_without_history_the_defaults_are_used_and_only_up_to_the_target_without_auto_video():
    state = apply(created(auto_video=False), cmd.MoveToColumn(column=Column.NARRACAO))
    assert eta_seconds(state, History(), datetime.now(UTC)) == DEFAULT_S["script"] + DEFAULT_S["tts"]


def test_no_eta_when_nothing_runs():
    assert eta_seconds(created(), History(), datetime.now(UTC)) is None
