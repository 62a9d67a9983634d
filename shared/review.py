"""The person at the pauses (issue 14): decisions on a script edit and on an approval.

`decide` routes `ReviseScript` and `Approve` here. A script edit is allowed while the job waits
for the review of its script (SCRIPT_DONE) or of its narration (TTS_DONE, where the narration is
recorded again); never while a step runs. Downstream steps see an edit through their input hash.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared import commands as cmd
from shared import events as ev
from shared.errors import TransitionRefused
from shared.jobstate import JobState
from shared.pipeline import RUNNING_STATES, Step
from shared.pipeline import JobStateName as S

if TYPE_CHECKING:
    from shared.decide import _Decision

EDITABLE = (S.SCRIPT_DONE, S.TTS_DONE)
REVIEWS = (S.SCRIPT_DONE, S.TTS_DONE, S.RENDER_READY)
RUNNING = "a step is running; wait for it to finish, or cancel it"


def edit_refusal(state: JobState) -> str | None:
    """Why the script cannot be edited now; None when it can."""
    if state.state in RUNNING_STATES:
        return RUNNING
    if state.state not in EDITABLE:
        return "the script is edited while the job waits for its script's or its narration's review"
    if not state.versions():
        return "the job has no script yet"
    return None


def revise(d: _Decision, c: cmd.ReviseScript) -> None:
    job = d.state
    refusal = edit_refusal(job)
    if refusal:
        raise TransitionRefused(str(job.state), "edit the script of", refusal)
    current = job.versions()[-1].version
    if c.base_version is not None and c.base_version != current:
        raise TransitionRefused(
            str(job.state),
            "edit the script of",
            f"version {current} was saved since version {c.base_version}; reload and edit again",
        )
    version = current + 1
    d.emit(
        ev.ScriptRevised(
            job_id=job.job_id,
            actor=c.actor,
            version=version,
            files=c.files,
            restored_from=c.restored_from,
            section=c.section,
            event_id=ev.event_id_for(job.job_id, "script", version, *(f.sha256 for f in c.files)),
        )
    )
    attempt = job.step(Step.SCRIPT).attempt
    for file in c.files:
        kept = job.artifacts.get(file.name)
        if kept and kept.sha256 == file.sha256 and kept.object_name == file.object_name:
            continue
        d.emit(
            ev.ArtifactWritten(
                job_id=job.job_id,
                actor=c.actor,
                step=Step.SCRIPT,
                attempt=attempt,
                metadata={"version": version, "edited_by": c.actor},
                event_id=ev.event_id_for(job.job_id, "script", version, file.name, file.sha256),
                **file.model_dump(),
            )
        )
    if job.state == S.TTS_DONE:
        reason = f"section {c.section} re-recorded" if c.section is not None else "the script was edited"
        d.transition(S.TTS_RUNNING, "user_action", reason)
        d.run_column(only=Step.TTS)


def approve(d: _Decision, c: cmd.Approve) -> None:
    job = d.state
    if job.state in RUNNING_STATES:
        raise TransitionRefused(str(job.state), "approve", RUNNING)
    if job.state not in REVIEWS:
        raise TransitionRefused(
            str(job.state),
            "approve",
            "only a job waiting for a review (its script, narration or render) can be",
        )
    reason = f"approved by {c.actor}"
    if job.state == S.SCRIPT_DONE:
        d.start_column(S.TTS_RUNNING, "user_action", reason)
        return
    if job.state == S.TTS_DONE:
        d.transition(S.RENDER_READY, "user_action", reason)
        if job.options.step_by_step:  # every pause is a review: the render's settings are next
            return
    d.start_column(S.RENDER_RUNNING, "user_action", reason)
