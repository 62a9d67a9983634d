"""Work items: the commands the conductor puts on the WORK stream for the step workers."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class WorkItem(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    job_id: str
    step: str
    attempt: int
    input_hash: str
    instruction: str | None = None
