"""The decisions of a review (issue 14): a script edit is a version, at the narration's review it
records the narration again, and nothing is edited or approved while a step runs."""

from __future__ import annotations

import pytest

from services.board.studio import Draft
from services.board.studio_diff import diff
from shared import commands as cmd
from shared.decide import decide
from shared.errors import TransitionRefused
from shared.events import AutoTransition, ScriptRevised, StepRequested, VersionFile
from shared.jobstate import REVIEW_TRANSITIONS, TRANSITIONS, Column, JobState, JobStateName
from shared.options import JobOptions
from shared.script import Script, Section
from tests.unit.test_machine import apply, config, created, run_step

S = JobStateName


def written(job: JobState) -> JobState:
    """The script step, run: it writes the script (`outline.json`)."""
    attempt = job.step("script").attempt
    job = apply(job, cmd.StartStep(step="script", attempt=attempt, worker="w1"))
    outline = cmd.RecordArtifact(
        step="script",
        attempt=attempt,
        name="outline.json",
        kind="outline",
        object_name="job-1/script/outline.json",
        mime_type="application/json",
        size_bytes=1,
        sha256="v1",
    )
    job = apply(apply(job, outline), cmd.CompleteStep(step="script", attempt=attempt, duration_s=1.0))
    return apply(job, cmd.Advance())


def at(state: S) -> JobState:
    job = written(apply(created(auto_video=False), cmd.MoveToColumn(column=Column.ROTEIRO)))
    if state == S.TTS_DONE:
        job = apply(run_step(apply(job, cmd.Approve()), "tts"), cmd.Advance())
    assert job.state == state
    return job


def edit(version: int | None = None, sha: str = "new", name: str = "script.out") -> cmd.ReviseScript:
    file = VersionFile(
        name=name,
        kind="x",
        object_name=f"job-1/script/versions/{sha}/{name}",
        mime_type="text/plain",
        size_bytes=1,
        sha256=sha,
    )
    return cmd.ReviseScript(files=(file,), base_version=version, actor="ana")


def test_an_edit_at_the_script_review_is_version_2_and_its_file_the_jobs():
    job = at(S.SCRIPT_DONE)
    assert [v.version for v in job.versions()] == [1]
    events = decide(job, edit(1))
    job = apply(job, edit(1))
    assert isinstance(events[0], ScriptRevised) and events[0].actor == "ana"
    assert [v.version for v in job.versions()] == [1, 2] and job.state == S.SCRIPT_DONE
    assert job.artifacts["script.out"].sha256 == "new" and job.versions()[0].files[0].sha256 == "v1"


def test_an_edit_at_the_narration_review_narrates_again():
    job = at(S.TTS_DONE)
    events = decide(job, edit(name="outline.json"))  # what the narration reads
    moves = [(e.from_state, e.to_state) for e in events if isinstance(e, AutoTransition)]
    assert moves == [(S.TTS_DONE, S.TTS_RUNNING)] and set(moves) <= REVIEW_TRANSITIONS | TRANSITIONS
    (asked,) = [e for e in events if isinstance(e, StepRequested)]
    assert (asked.step, asked.attempt) == ("tts", 2)


def test_before_the_script_is_written_there_is_nothing_to_edit():
    job = apply(created(auto_video=False), cmd.MoveToColumn(column=Column.ROTEIRO))
    assert job.versions() == ()
    with pytest.raises(TransitionRefused, match="a step is running"):
        decide(job, edit())


def test_a_stale_version_and_a_running_step_are_refused():
    job = apply(at(S.SCRIPT_DONE), edit(1))
    with pytest.raises(TransitionRefused, match="version 2 was saved since version 1"):
        decide(job, edit(1, "other"))
    running = apply(job, cmd.Approve())
    assert running.state == S.TTS_RUNNING
    for command in (edit(), cmd.Approve()):
        with pytest.raises(TransitionRefused, match="a step is running"):
            decide(running, command)


def test_approving_goes_on_from_each_review():
    assert apply(at(S.SCRIPT_DONE), cmd.Approve()).state == S.TTS_RUNNING
    assert apply(at(S.TTS_DONE), cmd.Approve()).state == S.RENDER_RUNNING
    with pytest.raises(TransitionRefused, match="waiting for a review"):
        decide(created(auto_video=False), cmd.Approve())


def test_the_diff_numbers_sentences_as_the_narration_does_and_marks_the_scenes():
    before = Script(
        title="T",
        language="en-US",
        generator="g",
        sections=(Section(heading="A", paragraphs=("One.  Two\nlines.", "Three.")),),
    )
    after = before.model_copy(update={"scenes": (3,)})
    lines, unified = diff(Draft(before), Draft(after), ("v1", "v2"))
    assert [(line.kind, line.text) for line in lines if line.kind in ("added", "removed")] == [
        ("removed", "Three."),
        ("added", "[scene] Three."),
    ]
    assert "+[scene] Three." in unified and " Two lines." in unified


def test_step_by_step_approving_the_narration_stops_at_the_render_settings():
    # given a step-by-step job at its narration's review
    options = JobOptions(step_by_step=True)
    new = cmd.CreateJob(title="T", brief="B.", language="en-US", options=options, config=config())
    job = written(apply(apply(JobState(job_id="job-1"), new), cmd.MoveToColumn(column=Column.ROTEIRO)))
    job = apply(run_step(apply(job, cmd.Approve()), "tts"), cmd.Advance())
    assert job.state == S.TTS_DONE
    # when the person approves it, the job waits at RENDER_READY (its render settings are a review too)
    job = apply(job, cmd.Approve())
    assert job.state == S.RENDER_READY and job.review_here
    # and approving there renders
    assert apply(job, cmd.Approve()).state == S.RENDER_RUNNING
