"""`decide(state, command) -> events`: every rule of the job lifecycle, as one pure function.

Decisions fold their own events as they go (`_Decision.emit`), so a chain such as
"skip a step whose output already exists, then request the next" reads top to bottom. Refusals raise
`TransitionRefused` with a reason a person can act on. Deterministic event ids (uuid5 of the job,
step and attempt) make a repeated decision dedup on `Nats-Msg-Id`.
"""

from __future__ import annotations

import hashlib
import json

from shared import commands as cmd
from shared import events as ev
from shared import names, review
from shared.errors import TransitionRefused
from shared.jobstate import JobState, evolve
from shared.options import RenderSettings
from shared.pipeline import COLUMN_ORDER, PAUSED_STATES, RUNNING_STATES, WORK_COLUMNS, Column
from shared.pipeline import JobStateName as S
from shared.said import said


def input_hash(state: JobState, step: str, instruction: str | None = None) -> str:
    """What a step's output depends on: the job's inputs, its config snapshot and the upstream
    artifacts it reads."""
    assert state.config is not None
    spec = state.pipeline.spec(step)
    reads = spec.reads
    basis = {
        "step": step,
        "title": state.title,
        "brief": state.brief,
        "language": state.language,
        "images": list(state.images),
        "config": state.config.model_dump(mode="json"),
        "instruction": instruction,
        "upstream": sorted(state.artifacts[name].sha256 for name in reads if name in state.artifacts),
    }
    if spec.column == Column.VIDEO and state.render != RenderSettings():
        basis["render"] = state.render.model_dump(mode="json")  # the render's alone: script, tts keep theirs
    return hashlib.sha256(json.dumps(basis, sort_keys=True).encode()).hexdigest()


class _Decision:
    def __init__(self, state: JobState, actor: str) -> None:
        self.state = state
        self.actor = actor
        self.events: list[ev.Event] = []

    def emit(self, event: ev.Event) -> None:
        self.events.append(event)
        self.state = evolve(self.state, event)

    def transition(self, to: S, trigger: ev.Trigger, reason: str = "", target: Column | None = None) -> None:
        assert self.state.state is not None
        self.emit(
            ev.AutoTransition(
                job_id=self.state.job_id,
                actor=self.actor,
                from_state=self.state.state,
                to_state=to,
                trigger=trigger,
                reason=reason,
                target_step=target,
                event_id=ev.event_id_for(self.state.job_id, "transition", self.state.events_applied),
            )
        )

    def request(self, step: str, instruction: str | None = None) -> None:
        """Ask for `step`, or skip it when its output for the same inputs is already there (and go
        on, as a completion would)."""
        job = self.state
        digest = input_hash(job, step, instruction)
        previous = job.step(step)
        spec = job.pipeline.spec(step)
        if previous.done and previous.input_hash == digest and job.artifacts_of(step):
            self.emit(
                ev.StepSkipped(
                    job_id=job.job_id,
                    actor=self.actor,
                    step=step,
                    input_hash=digest,
                    reason="output for the same inputs and config already exists",
                )
            )
            self.go_on()
            return
        attempt = previous.attempt + 1
        assert job.config is not None
        self.emit(
            ev.StepRequested(
                job_id=job.job_id,
                actor=self.actor,
                step=step,
                attempt=attempt,
                input_hash=digest,
                pool=job.config.video.pool if spec.pooled else None,
                instruction=instruction,
                event_id=ev.event_id_for(job.job_id, step, attempt, "requested"),
            )
        )

    def run_column(self, instruction: str | None = None, only: str | None = None) -> None:
        """In a column's running state: ask for each of its steps whose needs are done and that is
        neither done nor asked for yet (`only`: that step first, with `instruction`)."""
        column = self.state.column
        for spec in self.state.pipeline.in_column(column):
            job = self.state
            if job.state != WORK_COLUMNS[column][0]:
                return  # a skip finished the column (and went on)
            current = job.step(spec.name)
            if (current.done and spec.name != only) or current.active:
                continue
            if all(job.step(need).done for need in spec.needs):
                self.request(spec.name, instruction if spec.name == only else None)

    def complete_job(self) -> None:
        job = self.state
        created = job.created_at or job.updated_at
        assert created is not None and job.updated_at is not None
        video = job.artifacts.get(names.VIDEO)
        self.emit(
            ev.JobCompleted(
                job_id=job.job_id,
                actor=self.actor,
                video=video.name if video else "",
                duration_s=(job.updated_at - created).total_seconds(),
                event_id=ev.event_id_for(job.job_id, "completed", job.events_applied),
            )
        )

    def go_on(self) -> None:
        """After a step finished, or where a decision was cut short (a crash, a racing writer
        between its appends): the column's next steps; when the column is done, what Auto video or
        the person's target asks for; after the last column, the job's completion."""
        job = self.state
        if job.state in RUNNING_STATES:
            self.run_column()
        elif job.state in (S.SCRIPT_DONE, S.TTS_DONE, S.RENDER_READY):
            self.advance()
        elif job.state == S.DONE and job.completed_at is None:
            self.complete_job()

    def start_column(
        self, to: S, trigger: ev.Trigger, reason: str = "", target: Column | None = None
    ) -> None:
        self.transition(to, trigger, reason, target)
        self.run_column()

    def advance(self) -> None:
        """From a *_DONE state: go on if Auto video is on or the person's target lies further;
        where the job pauses for review (step by step, a recipe's checkpoint), only a person's move
        (or a render request) goes on."""
        job = self.state
        if job.review_here:
            return
        target = COLUMN_ORDER.index(job.target) if job.target else 0
        trigger: ev.Trigger = "auto_advance" if job.auto_video else "user_action"
        if job.state == S.SCRIPT_DONE and (job.auto_video or target >= COLUMN_ORDER.index(Column.NARRACAO)):
            self.start_column(S.TTS_RUNNING, trigger)
        elif job.state == S.TTS_DONE and job.auto_video:
            self.start_column(S.RENDER_RUNNING, "auto_advance")
        elif job.state == S.TTS_DONE and target >= COLUMN_ORDER.index(Column.VIDEO):
            self.transition(
                S.RENDER_READY, "step_complete", "Auto video is off: waiting for a render request"
            )
            if target >= COLUMN_ORDER.index(Column.CONCLUIDO):
                self.start_column(S.RENDER_RUNNING, "user_action")
        elif job.state == S.RENDER_READY and job.auto_video:
            self.start_column(S.RENDER_RUNNING, "user_action", "Auto video was switched on")


def _running(state: JobState, step: str, attempt: int, action: str) -> None:
    """Refuse work reports that do not belong to the step attempt now running (stale or duplicate)."""
    current = state.step(step)
    spec = state.pipeline.get(step)
    if spec is None or state.state != spec.running or current.attempt != attempt or not current.active:
        raise TransitionRefused(
            str(state.state), action, f"{step} attempt {attempt} is not running (now {current.status})"
        )


def _create(d: _Decision, c: cmd.CreateJob) -> None:
    if d.state.state is not None:
        raise TransitionRefused(str(d.state.state), "create", "the job already exists")
    created = ev.JobCreated(
        job_id=d.state.job_id,
        actor=c.actor,
        title=c.title,
        brief=c.brief,
        language=c.language,
        images=c.images,
        auto_video=c.auto_video,
        options=c.options,
        config=c.config,
        project=c.project,
        duplicate_of=c.duplicate_of,
    )
    d.emit(created)
    # complete input makes the job READY at once; DRAFT stays visible in its history
    d.emit(ev.JobConfigured.model_validate(created.model_dump(exclude={"event_id", "config", "project"})))


def _configure(d: _Decision, c: cmd.Configure) -> None:
    if d.state.state not in (S.DRAFT, S.READY):
        raise TransitionRefused(
            str(d.state.state), "edit", "only a job that has not started (DRAFT or READY) can be edited"
        )
    d.emit(ev.JobConfigured(job_id=d.state.job_id, **c.model_dump(exclude={"config"}), config=c.config))


def _set_auto_video(d: _Decision, c: cmd.SetAutoVideo) -> None:
    if d.state.state == S.DONE:
        raise TransitionRefused(str(d.state.state), "switch Auto video of", said("refused_already_done"))
    if d.state.auto_video == c.enabled:
        return
    d.emit(ev.AutoVideoSet(job_id=d.state.job_id, actor=c.actor, enabled=c.enabled))
    if c.enabled and d.state.state in (S.SCRIPT_DONE, S.TTS_DONE, S.RENDER_READY):
        d.advance()


def _move(d: _Decision, c: cmd.MoveToColumn) -> None:
    job = d.state
    assert job.state is not None
    if job.state in RUNNING_STATES:
        raise TransitionRefused(job.state, f"move to {c.column}", said("refused_step_running"))
    if job.state in (S.FAILED, S.CANCELLED):
        raise TransitionRefused(job.state, f"move to {c.column}", said("refused_resume_first"))
    here, there = COLUMN_ORDER.index(job.column), COLUMN_ORDER.index(c.column)
    if there < here:
        forward = said("refused_only_forward", column=job.column)
        raise TransitionRefused(job.state, f"move to {c.column}", forward)
    if job.state == S.DONE or there == here:
        return
    target = c.column
    if job.state == S.DRAFT:
        d.transition(S.READY, "user_action", target=target)
    if d.state.state == S.READY:
        d.start_column(S.SCRIPTING, "user_action", target=target)
    elif d.state.state == S.SCRIPT_DONE:
        d.start_column(S.TTS_RUNNING, "user_action", target=target)
    elif d.state.state == S.TTS_DONE:
        d.transition(S.RENDER_READY, "user_action", target=target)
        if c.column == Column.CONCLUIDO:
            d.start_column(S.RENDER_RUNNING, "user_action")
    elif d.state.state == S.RENDER_READY:
        d.start_column(S.RENDER_RUNNING, "user_action", target=target)


def _start(d: _Decision, c: cmd.StartStep) -> None:
    _running(d.state, c.step, c.attempt, "start a step of")
    current = d.state.step(c.step)
    if current.status == "running" and current.worker == c.worker:
        return
    job_id = d.state.job_id
    if current.status == "running" and current.worker and not c.redelivered:
        raise TransitionRefused(
            str(d.state.state),
            "start a step of",
            f"{c.step} attempt {c.attempt} already runs on {current.worker}",
        )
    if current.status == "running" and current.worker:
        d.emit(
            ev.LockStolen(
                job_id=job_id,
                actor=c.actor,
                step=c.step,
                attempt=c.attempt,
                previous_worker=current.worker,
                worker=c.worker,
            )
        )
    d.emit(ev.StepStarted(job_id=job_id, actor=c.actor, step=c.step, attempt=c.attempt, worker=c.worker))


def _artifact(d: _Decision, c: cmd.RecordArtifact) -> None:
    _running(d.state, c.step, c.attempt, "record an artifact of")
    existing = d.state.artifacts.get(c.name)
    if existing and existing.sha256 == c.sha256 and existing.object_name == c.object_name:
        return
    fields = c.model_dump(exclude={"actor"})
    d.emit(
        ev.ArtifactWritten(
            job_id=d.state.job_id,
            actor=c.actor,
            event_id=ev.event_id_for(d.state.job_id, c.step, c.attempt, c.name, c.sha256),
            **fields,
        )
    )


def _complete(d: _Decision, c: cmd.CompleteStep) -> None:
    """The step's end, and in the same decision what comes next (the next step's request, the
    pause, or the job's completion)."""
    _running(d.state, c.step, c.attempt, "complete a step of")
    job_id = d.state.job_id
    d.emit(
        ev.StepCompleted(
            job_id=job_id,
            actor=c.actor,
            step=c.step,
            attempt=c.attempt,
            input_hash=d.state.step(c.step).input_hash,
            duration_s=c.duration_s,
            metrics=c.metrics,
            event_id=ev.event_id_for(job_id, c.step, c.attempt, "completed"),
        )
    )
    d.go_on()


def _fail(d: _Decision, c: cmd.FailStep) -> None:
    _running(d.state, c.step, c.attempt, "fail a step of")
    job_id = d.state.job_id
    d.emit(
        ev.StepFailed(
            job_id=job_id, actor=c.actor, step=c.step, attempt=c.attempt, error=c.error, code=c.code
        )
    )
    d.emit(ev.JobFailed(job_id=job_id, actor=c.actor, step=c.step, error=c.error))


def _cancel(d: _Decision, c: cmd.Cancel) -> None:
    job = d.state
    if job.state not in RUNNING_STATES:
        raise TransitionRefused(str(job.state), "cancel", said("refused_nothing_running"))
    running = [spec.name for spec in job.pipeline.in_column(job.column) if job.step(spec.name).active]
    step = running[0] if running else job.current_step
    d.emit(ev.JobCancelled(job_id=job.job_id, actor=c.actor, step=step, reason=c.reason))


def _resume(d: _Decision, c: cmd.Resume) -> None:
    job = d.state
    if job.state not in (S.FAILED, S.CANCELLED):
        raise TransitionRefused(str(job.state), "resume", said("refused_not_stopped"))
    step = (job.failed_step if job.state == S.FAILED else job.current_step) or job.pipeline.names[0]
    if c.config is not None:
        if c.config.pipeline.get(step) is None:
            raise TransitionRefused(
                str(job.state), "retry with the current configuration", f"its recipe no longer runs {step}"
            )
        assert job.config is not None
        d.emit(
            ev.ConfigRefreshed(
                job_id=job.job_id, actor=c.actor, config=c.config, previous=dict(job.config.versions)
            )
        )
    d.emit(
        ev.JobResumed(
            job_id=job.job_id,
            actor=c.actor,
            step=step,
            retry_count=job.retry_count + 1,
            instruction=c.instruction,
        )
    )
    d.run_column(c.instruction, only=step)


def _render(d: _Decision, c: cmd.Render) -> None:
    """Render at RENDER_READY, or again on a finished video: only the render step runs."""
    job = d.state
    if job.state not in (S.RENDER_READY, S.DONE):
        why = (
            "a step is running; wait for it or cancel"
            if job.state in RUNNING_STATES
            else "a render starts from Video (RENDER_READY) or on a finished video (DONE);"
            f" this job is {job.state}"
        )
        raise TransitionRefused(str(job.state), "render", why)
    assert job.run_config is not None
    now = job.run_config.video.model_dump() | {"music": job.run_options.music}
    changed = RenderSettings.model_validate(
        {k: v for k, v in c.settings.model_dump(exclude_none=True).items() if now[k] != v}
    )
    step = next(spec.name for spec in job.pipeline.in_column(Column.VIDEO))
    if (
        job.state == S.DONE
        and changed == RenderSettings()
        and input_hash(job, step) == job.step(step).input_hash
    ):
        raise TransitionRefused(
            job.state,
            "render again",
            "the video already has these settings; change the music, captions or end card",
        )
    if changed != RenderSettings():
        d.emit(ev.RenderSettingsChanged(job_id=job.job_id, actor=c.actor, settings=changed))
    reason = "rendered again with new settings" if job.state == S.DONE else "render requested"
    d.transition(S.RENDER_RUNNING, "user_action", reason, target=Column.CONCLUIDO)
    d.run_column(only=step)


def waits_for_a_person(state: JobState) -> bool:
    """Paused where nothing but a person moves the job on (a review pause, or Auto video off and no
    target further): going on by itself would decide nothing."""
    return state.state in PAUSED_STATES and not decide(state, cmd.Advance())


def decide(state: JobState, command: cmd.Command) -> list[ev.Event]:
    """The events that `command` causes in `state`; raises TransitionRefused when it is not allowed."""
    d = _Decision(state, command.actor)
    if state.state is None and not isinstance(command, cmd.CreateJob):
        raise TransitionRefused("(none)", type(command).__name__, "the job does not exist")
    match command:
        case cmd.CreateJob():
            _create(d, command)
        case cmd.Configure():
            _configure(d, command)
        case cmd.SetAutoVideo():
            _set_auto_video(d, command)
        case cmd.MoveToColumn():
            _move(d, command)
        case cmd.Advance():
            d.go_on()
        case cmd.StartStep():
            _start(d, command)
        case cmd.ReportProgress():
            _running(state, command.step, command.attempt, "report progress of")
            d.emit(
                ev.StepProgress(
                    job_id=state.job_id, actor=command.actor, **command.model_dump(exclude={"actor"})
                )
            )
        case cmd.RecordArtifact():
            _artifact(d, command)
        case cmd.CompleteStep():
            _complete(d, command)
        case cmd.FailStep():
            _fail(d, command)
        case cmd.Cancel():
            _cancel(d, command)
        case cmd.Resume():
            _resume(d, command)
        case cmd.ReviseScript():
            review.revise(d, command)
        case cmd.Approve():
            review.approve(d, command)
        case cmd.Render():
            _render(d, command)
        case _:
            raise TypeError(f"unknown command {type(command).__name__}")
    return d.events
