"""Work items: the commands the conductor puts on the WORK stream for the step workers.

A work item is validated before anything uses it (an id is what the API accepts, every field is
bounded): one that does not hold is terminated by the consumer runtime, logged and counted, and
never reaches a handler, a path or a query.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

MAX_ITEM_BYTES = 16 * 1024  # a real item is a few hundred bytes; its longest field is the instruction
JobId = Annotated[str, Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
StepName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]


class WorkItem(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    job_id: JobId
    step: StepName
    attempt: int = Field(ge=1, le=100_000)
    input_hash: str = Field(pattern=r"^[0-9a-f]{0,128}$")
    instruction: str | None = Field(default=None, max_length=4000)

    @classmethod
    def read(cls, data: bytes) -> WorkItem:
        """A work item from the wire; `ValueError` (a pydantic ValidationError, or the size) if it is
        not one."""
        if len(data) > MAX_ITEM_BYTES:
            raise ValueError(f"a work item of {len(data)} bytes; at most {MAX_ITEM_BYTES} are read")
        return cls.model_validate_json(data)
