"""The pipeline table: every step a job runs, declared once.

The lifecycle of seed 001 (11 states, 5 columns, 21 transitions) stays as it is; this table maps the
steps onto it. A row says which board column a step belongs to, the running and done states it
drives, the steps it needs, the artifacts it reads and writes, and its weight for progress and ETA.
Several steps may share a column: the column's running state lasts until every step of the column
is done, and the steps of one column whose needs are met run side by side.

`decide`, `evolve`, the conductor, the workers, the projector, the ETA and the API's options read
this table; nothing else spells a step. A job snapshots the rows it runs with (`JobConfig.pipeline`),
so a job created before a step was added goes on with the steps it started with. Adding a step is
one row here plus one handler.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from fnmatch import fnmatchcase

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared import names


class JobStateName(StrEnum):
    DRAFT = "DRAFT"
    READY = "READY"
    SCRIPTING = "SCRIPTING"
    SCRIPT_DONE = "SCRIPT_DONE"
    TTS_RUNNING = "TTS_RUNNING"
    TTS_DONE = "TTS_DONE"
    RENDER_READY = "RENDER_READY"
    RENDER_RUNNING = "RENDER_RUNNING"
    DONE = "DONE"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class Column(StrEnum):
    A_FAZER = "A_FAZER"
    ROTEIRO = "ROTEIRO"
    NARRACAO = "NARRACAO"
    VIDEO = "VIDEO"
    CONCLUIDO = "CONCLUIDO"


S = JobStateName
COLUMN_ORDER: tuple[Column, ...] = tuple(Column)
COLUMN_OF_STATE: dict[JobStateName, Column] = {
    S.DRAFT: Column.A_FAZER,
    S.READY: Column.A_FAZER,
    S.SCRIPTING: Column.ROTEIRO,
    S.SCRIPT_DONE: Column.ROTEIRO,
    S.TTS_RUNNING: Column.NARRACAO,
    S.TTS_DONE: Column.NARRACAO,
    S.RENDER_READY: Column.VIDEO,
    S.RENDER_RUNNING: Column.VIDEO,
    S.DONE: Column.CONCLUIDO,
}
# The states of the columns where steps run: (running, done).
WORK_COLUMNS: dict[Column, tuple[JobStateName, JobStateName]] = {
    Column.ROTEIRO: (S.SCRIPTING, S.SCRIPT_DONE),
    Column.NARRACAO: (S.TTS_RUNNING, S.TTS_DONE),
    Column.VIDEO: (S.RENDER_RUNNING, S.DONE),
}
RUNNING_STATES: tuple[JobStateName, ...] = tuple(running for running, _ in WORK_COLUMNS.values())
# The states in which the job waits for a person (or Auto video) to go on.
PAUSED_STATES: tuple[JobStateName, ...] = (S.SCRIPT_DONE, S.TTS_DONE, S.RENDER_READY)


class Step(StrEnum):
    """The steps the product knows. Their handlers live in the service of the same name."""

    SCRIPT = "script"
    TTS = "tts"
    RENDER = "render"


StepName = str  # a Step, or a step a test defines: on the wire every step is its name


class StepSpec(BaseModel):
    """One row of the pipeline table."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: StepName = Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")
    column: Column
    running: JobStateName
    done: JobStateName
    needs: tuple[StepName, ...] = ()
    reads: tuple[str, ...] = Field(default=(), description="artifacts of the needed steps it uses")
    writes: tuple[str, ...] = Field(default=(), description="artifacts it makes; `*` for a family")
    weight: float = Field(default=10.0, gt=0, description="its usual share of a job's time")
    pooled: bool = Field(default=False, description="work goes to the pool the video preset names")

    @model_validator(mode="after")
    def _states_of_its_column(self) -> StepSpec:
        if WORK_COLUMNS.get(self.column) != (self.running, self.done):
            raise ValueError(f"step {self.name} in {self.column} must run as {WORK_COLUMNS.get(self.column)}")
        return self

    def writes_artifact(self, name: str) -> bool:
        """Whether `name` is one of the artifacts this step declares (`short-*.mp4` covers a family)."""
        return any(fnmatchcase(name, declared) for declared in self.writes)


class Pipeline(BaseModel):
    """The steps a job runs, in order; each step's needs come before it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    steps: tuple[StepSpec, ...]

    @model_validator(mode="after")
    def _ordered(self) -> Pipeline:
        seen: set[str] = set()
        for spec in self.steps:
            if spec.name in seen:
                raise ValueError(f"step {spec.name} is declared twice")
            missing = [need for need in spec.needs if need not in seen]
            if missing:
                raise ValueError(f"step {spec.name} needs {', '.join(missing)}, which must come before it")
            before = [s for s in self.steps if s.name in spec.needs]
            if any(COLUMN_ORDER.index(s.column) > COLUMN_ORDER.index(spec.column) for s in before):
                raise ValueError(f"step {spec.name} needs a step of a later column")
            seen.add(spec.name)
        return self

    def __iter__(self) -> Iterator[StepSpec]:  # type: ignore[override]
        return iter(self.steps)

    @property
    def names(self) -> tuple[StepName, ...]:
        return tuple(spec.name for spec in self.steps)

    def spec(self, name: str) -> StepSpec:
        for spec in self.steps:
            if spec.name == name:
                return spec
        raise KeyError(f"this job's pipeline has no step {name!r}")

    def get(self, name: str | None) -> StepSpec | None:
        return next((spec for spec in self.steps if spec.name == name), None)

    def in_column(self, column: Column) -> tuple[StepSpec, ...]:
        return tuple(spec for spec in self.steps if spec.column == column)

    def columns(self) -> tuple[Column, ...]:
        """The work columns this pipeline has steps in, in board order."""
        return tuple(c for c in COLUMN_ORDER if self.in_column(c))

    def with_step(self, spec: StepSpec) -> Pipeline:
        """This pipeline with one more row, placed after every step it needs."""
        steps = list(self.steps)
        after = max((steps.index(s) for s in steps if s.name in spec.needs), default=-1)
        steps.insert(after + 1, spec)
        return Pipeline(steps=tuple(steps))


PIPELINE = Pipeline(
    steps=(
        StepSpec(
            name=Step.SCRIPT,
            column=Column.ROTEIRO,
            running=S.SCRIPTING,
            done=S.SCRIPT_DONE,
            writes=(
                names.OUTLINE,
                names.SCRIPT_MD,
                names.IDEAS_MD,
                names.OUTLINE_MD,
                names.METADATA,
                names.SPEND,
            ),
            weight=15.0,
        ),
        StepSpec(
            name=Step.TTS,
            column=Column.NARRACAO,
            running=S.TTS_RUNNING,
            done=S.TTS_DONE,
            needs=(Step.SCRIPT,),
            reads=(names.OUTLINE,),
            writes=(names.NARRATION, names.CUES, names.SECTIONS_AUDIO),
            weight=25.0,
        ),
        StepSpec(
            name=Step.RENDER,
            column=Column.VIDEO,
            running=S.RENDER_RUNNING,
            done=S.DONE,
            needs=(Step.SCRIPT, Step.TTS),
            reads=(names.OUTLINE, names.NARRATION, names.CUES),
            writes=(
                names.VIDEO,
                names.THUMBNAIL,
                names.SUBTITLES_SRT,
                names.SUBTITLES_VTT,
                names.SHORTS,
                names.BACKGROUNDS,
            ),
            weight=60.0,
            pooled=True,
        ),
    )
)
