"""Property tests: random command sequences never leave the state machine."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from shared import commands as cmd
from shared.decide import decide
from shared.errors import TransitionRefused
from shared.events import AutoTransition
from shared.jobstate import TRANSITIONS, Column, JobState, JobStateName, evolve, fold
from tests.unit.test_machine import created

STEPS = ("script", "tts", "render")


def commands_for(state: JobState) -> st.SearchStrategy[cmd.Command]:
    attempt = st.integers(min_value=0, max_value=3)
    step = st.sampled_from(STEPS)
    return st.one_of(
        st.builds(cmd.MoveToColumn, column=st.sampled_from(list(Column))),
        st.just(cmd.Advance()),
        st.just(cmd.Cancel()),
        st.builds(cmd.Resume, instruction=st.none() | st.text(max_size=20)),
        st.builds(
            cmd.StartStep,
            step=step,
            attempt=attempt,
            worker=st.sampled_from(["w1", "w2"]),
            redelivered=st.booleans(),
        ),
        st.builds(cmd.ReportProgress, step=step, attempt=attempt, percent=st.floats(0, 100)),
        st.builds(cmd.CompleteStep, step=step, attempt=attempt, duration_s=st.just(1.0)),
        st.builds(cmd.FailStep, step=step, attempt=attempt, error=st.just("boom")),
    )


@settings(max_examples=100, deadline=None)
@given(st.data(), st.booleans())
def test_random_commands_stay_inside_the_machine(data: st.DataObject, auto_video: bool):
    state = created(auto_video)
    history = []
    for _ in range(30):
        command = data.draw(commands_for(state))
        try:
            events = decide(state, command)
        except TransitionRefused:
            continue
        for event in events:
            before = state.state
            state = evolve(state, event)
            history.append(event)
            if isinstance(event, AutoTransition):
                assert (JobStateName(event.from_state), JobStateName(event.to_state)) in TRANSITIONS
            if before != state.state and before is not None and state.state is not None:
                assert (before, state.state) in TRANSITIONS or before in (JobStateName.DRAFT,), (
                    before,
                    state.state,
                )
        assert state.state in JobStateName
        assert 0 <= state.progress <= 100
    # folding the whole history again gives the same state (what the projector does)
    replayed = fold(state.job_id, [*decide(JobState(job_id=state.job_id), creation_of(state)), *history])
    assert replayed.state == state.state


def creation_of(state: JobState) -> cmd.CreateJob:
    assert state.config is not None
    return cmd.CreateJob(
        title=state.title,
        brief=state.brief,
        language=state.language,
        auto_video=state.auto_video,
        config=state.config,
    )
