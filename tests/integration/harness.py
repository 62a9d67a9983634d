"""Drive the pipeline by hand, one real JetStream message at a time, so a test can deliver any
message twice. Uses the real conductor and the real step workers, with no stack running."""

from __future__ import annotations

import uuid

from nats.aio.msg import Msg
from nats.js import api as js_api

from services.board.conductor import Conductor
from services.registry.publisher import publish_defaults
from services.render.ffmpeg import FFmpeg, ffmpeg_binary
from services.render.handler import RenderStep
from services.script.handler import ScriptStep
from services.script.writer import OfflineDraftWriter
from services.tts.espeak import EspeakEngine
from services.tts.handler import NarrationStep
from shared import commands as cmd
from shared import names
from shared.configstore import ConfigReader
from shared.consumer import Consumer
from shared.events import Event
from shared.eventstore import EventStore
from shared.jobstate import Column
from shared.pipeline import PIPELINE, Step
from shared.worker import StepHandler, StepWorker
from tests.conftest import BRIEF

_speech = EspeakEngine()


def handler_for(step: str) -> StepHandler:
    if step == Step.SCRIPT:
        return ScriptStep(OfflineDraftWriter())
    if step == Step.TTS:
        return NarrationStep(_speech)
    return RenderStep(FFmpeg(ffmpeg_binary()))


async def message_at(store: EventStore, seq: int) -> Msg:
    """The JOB_EVENTS message at `seq`, fetched through a fresh pull consumer (so it can be acked)."""
    config = js_api.ConsumerConfig(
        deliver_policy=js_api.DeliverPolicy.BY_START_SEQUENCE,
        opt_start_seq=seq,
        ack_policy=js_api.AckPolicy.EXPLICIT,
    )
    psub = await store.bus.js.pull_subscribe(
        names.JOB_EVENTS_SUBJECTS, stream=names.JOB_EVENTS_STREAM, config=config
    )
    try:
        (msg,) = await psub.fetch(1, timeout=5)
        return msg
    finally:
        await psub.unsubscribe()


def again(msg: Msg) -> Msg:
    """The same message as a second delivery: same subject, data, headers and ack subject."""
    return Msg(_client=msg._client, subject=msg.subject, reply=msg.reply, data=msg.data, headers=msg.headers)


async def events_of(store: EventStore, job_id: str) -> list[tuple[int, Event]]:
    return [(seq, event) for seq, event, _ in await store.read(job_id)]


async def last_of_type(store: EventStore, job_id: str, kind: str) -> int:
    return max(seq for seq, event in await events_of(store, job_id) if event.type == kind)


async def new_job(
    store: EventStore, title: str = "Why octopuses have three hearts", voice: str | None = None
) -> str:
    await publish_defaults(store.bus)
    config = await ConfigReader(store.bus).resolve("narrated-story", "en-US", voice)
    job_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"vfo-test:{title}"))
    await store.execute(job_id, cmd.CreateJob(title=title, brief=BRIEF, language="en-US", config=config))
    await store.execute(job_id, cmd.MoveToColumn(column=Column.CONCLUIDO))
    return job_id


async def run_step(
    store: EventStore, job_id: str, step: str, deliveries: int = 1, handler: StepHandler | None = None
) -> None:
    """Conductor publishes the step's work; the worker handles it `deliveries` times (through the
    consumer runtime, which acks); conductor advances."""
    conductor = Conductor(store)
    await conductor.handle(await message_at(store, await last_of_type(store, job_id, "step_requested")))
    spec = PIPELINE.spec(step)
    worker = StepWorker(store, spec, handler or handler_for(step), worker_id=f"{step}-test", pools=("cpu",))
    consumer = Consumer(store.bus, worker.durables, worker.handle)
    psub = await worker.durables[0].bind(store.bus)
    (msg,) = await psub.fetch(1, timeout=5)
    for n in range(deliveries):
        await consumer.handle(again(msg) if n else msg)
    await psub.unsubscribe()
    await conductor.handle(await message_at(store, await last_of_type(store, job_id, "step_completed")))
