"""ETA from history (a line fitted to size -> seconds per step) and from the running step's own pace;
no ETA rather than a wrong one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.board.eta import TRUSTED_RUNS, EtaInput, Fit, History
from services.board.eta import eta_seconds as eta_of_input
from shared import commands as cmd
from shared.decide import decide
from shared.jobstate import Column, JobState, evolve
from tests.unit.test_machine import apply, created

STARTED = datetime(2026, 1, 1, tzinfo=UTC)
KEY = ("narrated-story", "landscape-1080p30")


def eta_seconds(state: JobState, history: History, now: datetime) -> float | None:
    return eta_of_input(EtaInput.of_state(state), history, now)


def fits(runs: int = TRUSTED_RUNS, **seconds: float) -> dict[tuple[str, str, str], Fit]:
    return {(step, *KEY): Fit(s, 0.0, runs) for step, s in seconds.items()}


def running_script(percent: float = 0.0, auto_video: bool = True) -> JobState:
    """A job whose script step started at STARTED and has reported `percent` (without Auto video:
    a job sent only to the script column)."""
    state = apply(created(auto_video=auto_video), cmd.MoveToColumn(column=Column.ROTEIRO))
    for event in decide(state, cmd.StartStep(step="script", attempt=1, worker="w")):
        state = evolve(state, event.model_copy(update={"occurred_at": STARTED}))
    if percent:
        state = apply(state, cmd.ReportProgress(step="script", attempt=1, percent=percent))
    return state


def test_fit_predicts_on_a_line_and_never_below_a_tenth():
    assert Fit(2.0, 0.5).predict(10) == 7.0
    assert Fit(-5.0, 0.0).predict(1) == 0.1


def test_trusted_history_sums_the_steps_left_minus_time_spent_in_the_running_one():
    # given a job running its script for 3 s, with trusted history for every step
    state = running_script()
    history = History(fits(script=10.0, tts=10.0, render=10.0))
    # when / then: 7 s of script left, then 10 + 10
    assert eta_seconds(state, history, STARTED + timedelta(seconds=3)) == 27.0


def test_narration_and_render_scale_with_the_script_estimated_from_the_brief_until_it_exists():
    # given history where narration takes 0.1 s a word and scripts have 0.5 words per brief character
    state = apply(created(), cmd.MoveToColumn(column=Column.NARRACAO))  # brief "B." is 2 characters
    history = History(fits(script=2.0, render=15.0) | {("tts", *KEY): Fit(0.0, 0.1)}, words_per_char=0.5)
    # then before the script exists, tts is predicted for 1 word
    assert eta_seconds(state, history, datetime.now(UTC)) == 2.0 + 0.1 + 15.0


def test_only_the_steps_up_to_the_target_count_without_auto_video():
    state = apply(created(auto_video=False), cmd.MoveToColumn(column=Column.NARRACAO))
    assert eta_seconds(state, History(fits(script=2.0, tts=5.0)), datetime.now(UTC)) == 7.0


def test_first_run_of_a_recipe_has_no_eta_until_the_step_reports_its_pace():
    # given no history at all (the first render of a recipe), a script that just started
    state = apply(created(auto_video=False), cmd.MoveToColumn(column=Column.ROTEIRO))
    started = running_script()
    # then there is no ETA: no default minus the time spent ("about 1 s left" for a minute)
    assert eta_seconds(started, History(), STARTED + timedelta(seconds=60)) is None
    # and a job not started yet, with nothing known about its steps, has none either
    assert eta_seconds(state, History(), datetime.now(UTC)) is None


def test_thin_history_gives_way_to_the_steps_own_progress_rate():
    # given one earlier run that took 5 s, and a script 40% done after 8 s (overrunning it)
    state = running_script(percent=40)
    history = History(fits(runs=1, script=5.0, tts=4.0, render=6.0))
    # then the script needs 8 * 60 / 40 = 12 s more, then tts and render as history says
    assert eta_seconds(state, history, STARTED + timedelta(seconds=8)) == 12.0 + 4.0 + 6.0


def test_thin_history_not_overrun_still_prefers_the_measured_rate():
    state = running_script(percent=50)  # 50% after 4 s: 4 s more
    history = History(fits(runs=1, script=30.0, tts=1.0, render=1.0))
    assert eta_seconds(state, history, STARTED + timedelta(seconds=4)) == 4.0 + 1.0 + 1.0


def test_trusted_history_overrun_falls_back_to_the_rate_and_without_one_there_is_no_eta():
    history = History(fits(script=5.0, tts=1.0, render=1.0))
    # 80% after 20 s, history said 5 s: the rate says 5 s more
    assert eta_seconds(running_script(percent=80), history, STARTED + timedelta(seconds=20)) == 5.0 + 2.0
    # no progress reported yet and history overrun: unknown, not "about 0 s"
    assert eta_seconds(running_script(), history, STARTED + timedelta(seconds=20)) is None


def test_a_pace_too_early_to_tell_is_not_used():
    # 1% after 0.5 s would extrapolate wildly: below RATE_MIN_PERCENT and RATE_MIN_ELAPSED_S
    state = running_script(percent=1)
    assert (
        eta_seconds(state, History(fits(runs=1, tts=1.0, render=1.0)), STARTED + timedelta(seconds=1)) is None
    )


def test_a_future_step_without_history_makes_the_eta_unknown():
    state = running_script(percent=50)
    history = History(fits(script=10.0, tts=5.0))  # render never measured for this recipe
    assert eta_seconds(state, history, STARTED + timedelta(seconds=5)) is None


def test_no_eta_when_nothing_runs():
    assert eta_seconds(created(), History(), datetime.now(UTC)) is None


def test_under_a_second_left_shows_no_eta_rather_than_about_0_s():
    later = STARTED + timedelta(seconds=20)
    # given a last step at 90% after 20 s: its pace says 2.2 s more, and that is shown
    assert eta_seconds(running_script(90, auto_video=False), History(), later) == 2.2
    # given it at 96% (the pace says 0.8 s, while saving the video takes longer): no ETA
    assert eta_seconds(running_script(96, auto_video=False), History(), later) is None
