"""The job state machine: seed 001's 11 states, 5 columns and 21 transitions (and the re-render
issue 14 adds), and decide's rules."""

from __future__ import annotations

import pytest

from shared import commands as cmd
from shared.config import JobConfig, Recipe, ScriptPreset, VideoPreset, VoicePreset
from shared.decide import decide
from shared.errors import TransitionRefused
from shared.events import AutoTransition, JobCompleted, LockStolen, StepRequested, StepSkipped
from shared.jobstate import TRANSITIONS, Column, JobState, JobStateName, evolve, fold

S = JobStateName


def config() -> JobConfig:
    return JobConfig(
        recipe=Recipe(slug="narrated-story"),
        script=ScriptPreset(slug="offline"),
        voice=VoicePreset(slug="en-US", voice="en-us"),
        video=VideoPreset(slug="landscape-1080p30"),
    )


def apply(state: JobState, command: cmd.Command) -> JobState:
    for event in decide(state, command):
        state = evolve(state, event)
    return state


def created(auto_video: bool = True) -> JobState:
    state = JobState(job_id="job-1")
    return apply(
        state, cmd.CreateJob(title="T", brief="B.", language="en-US", auto_video=auto_video, config=config())
    )


def run_step(state: JobState, step: str, worker: str = "w1") -> JobState:
    attempt = state.step(step).attempt
    state = apply(state, cmd.StartStep(step=step, attempt=attempt, worker=worker))
    state = apply(
        state,
        cmd.RecordArtifact(
            step=step,
            attempt=attempt,
            name=f"{step}.out",
            kind="x",
            object_name=f"job-1/{step}/{step}.out",
            mime_type="text/plain",
            size_bytes=1,
            sha256=step * 4,
        ),
    )
    return apply(state, cmd.CompleteStep(step=step, attempt=attempt, duration_s=1.0))


def test_the_seed_has_21_transitions_between_11_states_in_5_columns_and_a_re_render():
    assert len(TRANSITIONS) == 22
    assert (S.DONE, S.RENDER_RUNNING) in TRANSITIONS
    assert len(JobStateName) == 11
    assert len(Column) == 5


def test_create_goes_draft_then_ready_in_a_fazer():
    # given / when
    events = decide(
        JobState(job_id="j"), cmd.CreateJob(title="T", brief="B", language="en-US", config=config())
    )
    # then
    states = [evolve(JobState(job_id="j"), events[0]).state, fold("j", events).state]
    assert states == [S.DRAFT, S.READY]
    assert fold("j", events).column == Column.A_FAZER


def test_auto_video_runs_to_done_with_every_transition_in_the_table():
    # given a ready job with Auto video on
    state = created(auto_video=True)
    # when it is dragged to ROTEIRO and each step finishes (the conductor advances after each)
    state = apply(state, cmd.MoveToColumn(column=Column.ROTEIRO))
    seen = [state.state]
    for step in ("script", "tts", "render"):
        state = run_step(state, step)
        seen.append(state.state)
        state = apply(state, cmd.Advance())
        seen.append(state.state)
    # then
    assert state.state == S.DONE
    assert seen[-1] == S.DONE and S.RENDER_RUNNING in seen


def test_auto_off_pauses_at_script_done_and_the_move_continues():
    state = apply(created(auto_video=False), cmd.MoveToColumn(column=Column.ROTEIRO))
    state = apply(run_step(state, "script"), cmd.Advance())
    assert state.state == S.SCRIPT_DONE
    state = apply(state, cmd.MoveToColumn(column=Column.NARRACAO))
    assert state.state == S.TTS_RUNNING


def test_auto_off_with_target_video_waits_in_render_ready():
    state = apply(created(auto_video=False), cmd.MoveToColumn(column=Column.VIDEO))
    state = apply(run_step(state, "script"), cmd.Advance())
    state = apply(run_step(state, "tts"), cmd.Advance())
    assert state.state == S.RENDER_READY
    state = apply(state, cmd.MoveToColumn(column=Column.CONCLUIDO))
    assert state.state == S.RENDER_RUNNING


def test_every_emitted_transition_is_one_of_the_21():
    state = created(auto_video=False)
    events = []
    for command in (cmd.MoveToColumn(column=Column.CONCLUIDO),):
        events += decide(state, command)
    for event in events:
        if isinstance(event, AutoTransition):
            assert (S(event.from_state), S(event.to_state)) in TRANSITIONS


@pytest.mark.parametrize(
    ("column", "reason"),
    [(Column.A_FAZER, "only move forward")],
)
def test_moving_backwards_is_refused_with_a_reason(column: Column, reason: str):
    state = apply(
        run_step(apply(created(False), cmd.MoveToColumn(column=Column.ROTEIRO)), "script"), cmd.Advance()
    )
    with pytest.raises(TransitionRefused, match=reason):
        decide(state, cmd.MoveToColumn(column=column))


def test_moving_a_running_job_is_refused():
    state = apply(created(), cmd.MoveToColumn(column=Column.ROTEIRO))
    with pytest.raises(TransitionRefused, match="a step is running"):
        decide(state, cmd.MoveToColumn(column=Column.VIDEO))


def test_cancel_then_resume_requests_the_same_step_again():
    state = apply(created(), cmd.MoveToColumn(column=Column.ROTEIRO))
    state = apply(state, cmd.Cancel())
    assert state.state == S.CANCELLED
    assert state.column == Column.ROTEIRO
    state = apply(state, cmd.Resume())
    assert state.state == S.SCRIPTING
    assert state.retry_count == 1
    assert state.step("script").attempt == 2


def test_failure_keeps_failed_step_and_error_and_retry_carries_the_instruction():
    state = apply(created(), cmd.MoveToColumn(column=Column.ROTEIRO))
    state = apply(state, cmd.StartStep(step="script", attempt=1, worker="w"))
    state = apply(state, cmd.FailStep(step="script", attempt=1, error="model refused"))
    assert (state.state, state.failed_step, state.last_error) == (S.FAILED, "script", "model refused")
    state = apply(state, cmd.Resume(instruction="shorter, please"))
    assert state.step("script").instruction == "shorter, please"
    assert state.failed_step == "script"  # kept for debugging (seed 4.6)


def test_reports_from_a_stale_attempt_are_refused():
    state = apply(created(), cmd.MoveToColumn(column=Column.ROTEIRO))
    with pytest.raises(TransitionRefused, match="not running"):
        decide(state, cmd.CompleteStep(step="script", attempt=7, duration_s=1))


def test_a_duplicate_work_item_does_not_steal_a_running_step_but_a_redelivery_does():
    state = apply(created(), cmd.MoveToColumn(column=Column.ROTEIRO))
    state = apply(state, cmd.StartStep(step="script", attempt=1, worker="w1"))
    with pytest.raises(TransitionRefused, match="already runs on w1"):
        decide(state, cmd.StartStep(step="script", attempt=1, worker="w2"))
    events = decide(state, cmd.StartStep(step="script", attempt=1, worker="w2", redelivered=True))
    assert isinstance(events[0], LockStolen) and events[0].previous_worker == "w1"


def test_a_step_with_the_same_inputs_and_artifacts_is_skipped_on_resume():
    # given a job whose script finished, then tts failed
    state = apply(created(), cmd.MoveToColumn(column=Column.ROTEIRO))
    state = run_step(state, "script")
    state = apply(state, cmd.Advance())
    state = apply(state, cmd.StartStep(step="tts", attempt=1, worker="w"))
    state = apply(state, cmd.Cancel())
    # when the script step is requested again with unchanged inputs
    d_events = decide(state.model_copy(update={"current_step": "script"}), cmd.Resume())
    # then it is skipped and the pipeline moves on to tts
    assert any(isinstance(e, StepSkipped) and e.step == "script" for e in d_events)
    assert any(isinstance(e, StepRequested) and e.step == "tts" for e in d_events)


def test_render_completion_completes_the_job():
    state = apply(created(), cmd.MoveToColumn(column=Column.ROTEIRO))
    for step in ("script", "tts"):
        state = apply(run_step(state, step), cmd.Advance())
    events = []
    attempt = state.step("render").attempt
    state = apply(state, cmd.StartStep(step="render", attempt=attempt, worker="w"))
    events = decide(state, cmd.CompleteStep(step="render", attempt=attempt, duration_s=2))
    assert isinstance(events[-1], JobCompleted)
    assert fold("x", []).state is None
