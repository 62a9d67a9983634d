"""Issue 14's decisions: wizard mode and a recipe's checkpoints pause with Auto video on; a render
again changes only what the render uses; a retry with the current configuration records it."""

from __future__ import annotations

import pytest

from shared import commands as cmd
from shared.config import Recipe, VideoPreset
from shared.decide import decide, input_hash, waits_for_a_person
from shared.errors import TransitionRefused
from shared.events import ConfigRefreshed, RenderSettingsChanged, StepRequested
from shared.jobstate import Column, JobState, JobStateName, evolve
from shared.options import JobOptions, RenderSettings
from tests.unit.test_machine import apply, config, run_step

S = JobStateName


def job(auto_video: bool = True, step_by_step: bool = False, recipe: Recipe | None = None) -> JobState:
    snapshot = config() if recipe is None else config().model_copy(update={"recipe": recipe})
    create = cmd.CreateJob(
        title="T",
        brief="B.",
        language="en-US",
        auto_video=auto_video,
        options=JobOptions(step_by_step=step_by_step),
        config=snapshot,
    )
    return apply(JobState(job_id="job-1"), create)


def finished(state: JobState, step: str) -> JobState:
    return apply(run_step(state, step), cmd.Advance())


def test_step_by_step_pauses_after_every_step_with_auto_video_on():
    # given a step-by-step job with Auto video on, started
    state = apply(job(step_by_step=True), cmd.MoveToColumn(column=Column.ROTEIRO))
    # when the script is done (and the conductor advances)
    state = finished(state, "script")
    # then it waits for review, and switching Auto video on again does not move it
    assert state.state == S.SCRIPT_DONE and state.review_here
    toggled = apply(apply(state, cmd.SetAutoVideo(enabled=False)), cmd.SetAutoVideo(enabled=True))
    assert toggled.state == S.SCRIPT_DONE
    # when the person moves it on (even to the end), only the next step runs before the next pause
    state = apply(state, cmd.MoveToColumn(column=Column.CONCLUIDO))
    assert state.state == S.TTS_RUNNING
    state = finished(state, "tts")
    assert state.state == S.TTS_DONE and state.review_here
    state = apply(state, cmd.MoveToColumn(column=Column.VIDEO))
    assert state.state == S.RENDER_READY
    assert apply(state, cmd.Advance()).state == S.RENDER_READY  # Auto video does not start it
    state = apply(state, cmd.Render())
    assert state.state == S.RENDER_RUNNING
    assert finished(state, "render").state == S.DONE


def test_a_recipe_checkpoint_pauses_there_only():
    # given a recipe that asks for a review of the narration
    state = job(recipe=Recipe(slug="checked", checkpoints=("tts",)))
    state = apply(state, cmd.MoveToColumn(column=Column.ROTEIRO))
    # when script and narration finish with Auto video on
    state = finished(state, "script")
    assert state.state == S.TTS_RUNNING and not state.review_here
    state = finished(state, "tts")
    # then it waits after the narration
    assert state.state == S.TTS_DONE and state.review_here


def test_without_a_review_a_job_goes_on_as_before():
    state = finished(apply(job(), cmd.MoveToColumn(column=Column.ROTEIRO)), "script")
    assert state.state == S.TTS_RUNNING


def done() -> JobState:
    state = apply(job(), cmd.MoveToColumn(column=Column.ROTEIRO))
    for step in ("script", "tts", "render"):
        state = finished(state, step)
    assert state.state == S.DONE
    return state


def test_render_again_runs_only_the_render_with_the_new_settings():
    # given a finished video
    state = done()
    before = {step: state.step(step) for step in ("script", "tts", "render")}
    # when the person turns captions off and picks music
    events = decide(state, cmd.Render(settings=RenderSettings(captions="off", music="calm")))
    state = apply(state, cmd.Render(settings=RenderSettings(captions="off", music="calm")))
    # then the change is recorded, only the render is asked for, and it runs with the new settings
    assert isinstance(events[0], RenderSettingsChanged)
    assert [e.step for e in events if isinstance(e, StepRequested)] == ["render"]
    assert state.state == S.RENDER_RUNNING and state.completed_at is None
    for step in ("script", "tts"):
        assert state.step(step) == before[step]
        assert input_hash(state, step) == before[step].input_hash  # their inputs did not change
    assert state.step("render").input_hash != before["render"].input_hash
    assert state.run_config is not None and state.run_config.video.captions == "off"
    assert state.run_options.music == "calm"
    assert state.config is not None and state.config.video.captions == "lines"  # the snapshot stays
    # and when it is rendered, the job is completed again
    assert finished(state, "render").completed_at is not None


def test_render_again_with_the_same_settings_is_refused():
    state = apply(done(), cmd.Render(settings=RenderSettings(music="calm")))
    state = finished(state, "render")
    with pytest.raises(TransitionRefused, match="already has these settings"):
        decide(state, cmd.Render(settings=RenderSettings(music="calm")))


def test_render_while_running_is_refused():
    state = apply(job(), cmd.MoveToColumn(column=Column.ROTEIRO))
    with pytest.raises(TransitionRefused, match="a step is running"):
        decide(state, cmd.Render())
    with pytest.raises(TransitionRefused, match="RENDER_READY"):
        decide(job(), cmd.Render())


def failed_render() -> JobState:
    state = apply(job(), cmd.MoveToColumn(column=Column.ROTEIRO))
    state = finished(finished(state, "script"), "tts")
    attempt = state.step("render").attempt
    state = apply(state, cmd.StartStep(step="render", attempt=attempt, worker="w"))
    return apply(state, cmd.FailStep(step="render", attempt=attempt, error="ZeroDivisionError"))


def test_retry_with_the_current_configuration_records_it_and_runs_the_failed_step():
    # given a render that failed on a bad video preset, since fixed in the registry
    state = failed_render()
    fixed = config().model_copy(
        update={
            "video": VideoPreset(slug="landscape-1080p30", width=1280, height=720, version=2),
            "versions": {"preset.video.landscape-1080p30": 2},
        }
    )
    # when the person retries with the current configuration
    events = decide(state, cmd.Resume(config=fixed))
    state = apply(state, cmd.Resume(config=fixed))
    # then the new versions are recorded and the render runs again with them
    assert isinstance(events[0], ConfigRefreshed)
    assert events[0].config.versions == {"preset.video.landscape-1080p30": 2}
    assert state.state == S.RENDER_RUNNING and state.step("render").status == "requested"
    assert state.config is not None and state.config.video.width == 1280


def test_render_settings_outlive_a_refreshed_config():
    state = apply(done(), cmd.Render(settings=RenderSettings(captions="words")))
    state = finished(state, "render")
    assert state.run_config is not None and state.run_config.video.captions == "words"
    refreshed = state.model_copy(update={"config": config().model_copy(update={"versions": {"x": 3}})})
    assert refreshed.run_config is not None and refreshed.run_config.video.captions == "words"


def test_a_job_waits_for_a_person_only_where_nothing_else_moves_it_on():
    # a step-by-step job after its script, Auto video on: waits
    wizard = finished(apply(job(step_by_step=True), cmd.MoveToColumn(column=Column.ROTEIRO)), "script")
    assert waits_for_a_person(wizard)
    # an ordinary job with Auto video on, seen between the script's end and what follows: does not
    running = apply(job(), cmd.MoveToColumn(column=Column.ROTEIRO))
    attempt = running.step("script").attempt
    running = apply(running, cmd.StartStep(step="script", attempt=attempt, worker="w"))
    completed = decide(running, cmd.CompleteStep(step="script", attempt=attempt, duration_s=1.0))[0]
    between = evolve(running, completed)
    assert between.state == S.SCRIPT_DONE and not waits_for_a_person(between)
    # Auto video off and no target further: waits; a running or finished job: does not
    paused = finished(apply(job(auto_video=False), cmd.MoveToColumn(column=Column.ROTEIRO)), "script")
    assert paused.state == S.SCRIPT_DONE and waits_for_a_person(paused)
    assert not waits_for_a_person(running) and not waits_for_a_person(done())
