"""Adding a step is one row of the pipeline table plus one handler: nothing else changes.

The whole stack runs (registry, board, conductor, projector, the script, tts and render services);
the test adds a row (a `check` step in the Narration column, after tts, before the render) and its
handler, and a job whose config snapshot carries that table goes through it to DONE.
"""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx

from shared import commands as cmd
from shared.bus import Bus
from shared.configstore import ConfigReader
from shared.cues import Cues
from shared.eventstore import EventStore
from shared.pipeline import PIPELINE, Column, JobStateName, Step, StepSpec
from shared.worker import Output, StepInput, StepResult, StepWorker
from tests.conftest import BRIEF, wait_for_state
from vfo.stack import Stack

CHECK = StepSpec(
    name="check",
    column=Column.NARRACAO,
    running=JobStateName.TTS_RUNNING,
    done=JobStateName.TTS_DONE,
    needs=(Step.TTS,),
    reads=("cues.json",),
    writes=("check.json",),
    weight=5.0,
)


async def check(step: StepInput) -> StepResult:
    """The test-only handler: counts the narration's cues and says how long it lasts."""
    cues = Cues.model_validate_json(step.read("cues.json").read_bytes())
    out = step.workdir / "check.json"
    out.write_text(json.dumps({"cues": len(cues.cues), "seconds": cues.duration}))
    return StepResult(outputs=(Output(out, "check.json", "report", "application/json"),))


async def test_a_pipeline_with_one_more_step_runs_a_job_end_to_end(stack: Stack, client: httpx.AsyncClient):
    # given the shipped table with one more row, and a worker for it
    assert stack.settings.nats_url
    bus = await Bus.connect(stack.settings.nats_url, "test")
    store = EventStore(bus)
    stop = asyncio.Event()
    worker = asyncio.create_task(StepWorker(store, CHECK, check, worker_id="check-test").run(stop))
    try:
        pipeline = PIPELINE.with_step(CHECK)
        assert pipeline.names == ("script", "tts", "check", "render")
        config = await ConfigReader(bus).resolve("narrated-story", "en-US")
        job_id = str(uuid.uuid4())
        # when a job that runs with that table is created and sent to the end
        created = cmd.CreateJob(
            title="Why octopuses have three hearts",
            brief=BRIEF,
            language="en-US",
            config=config.model_copy(update={"pipeline": pipeline}),
        )
        await store.execute(job_id, created)
        await store.execute(job_id, cmd.MoveToColumn(column=Column.CONCLUIDO))
        job = await wait_for_state(client, job_id, ("DONE", "FAILED"))
    finally:
        stop.set()
        await worker
        await bus.close()
    # then it is done, every step ran once, and the check ran between the narration and the render
    assert job["state"] == "DONE", job["last_error"]
    completed = [e["payload"]["step"] for e in job["events"] if e["type"] == "step_completed"]
    assert completed == ["script", "tts", "check", "render"]
    requested = [e["payload"]["step"] for e in job["events"] if e["type"] == "step_requested"]
    assert requested == ["script", "tts", "check", "render"]
    # the Narration column stayed running until its last step (check) was done
    moves = [e["payload"]["to_state"] for e in job["events"] if e["type"] == "auto_transition"]
    assert moves == ["SCRIPTING", "TTS_RUNNING", "RENDER_RUNNING"]
    report = next(a for a in job["artifacts"] if a["name"] == "check.json")
    assert report["step"] == "check"
    made = (await client.get(f"/api/v1/jobs/{job_id}/artifacts/check.json")).json()
    assert made["cues"] > 0 and made["seconds"] > 1
    assert {s["step"]: s["status"] for s in job["steps"]}["check"] == "completed"
    assert job["progress"] == 100
