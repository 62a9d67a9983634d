"""Render pools: a host takes work from the pools it joined and from `any`, never from another
pool; two hosts of one pool share its queue (each item once)."""

from __future__ import annotations

import asyncio

from nats.aio.msg import Msg

from shared import names
from shared.bus import Bus
from shared.eventstore import EventStore
from shared.pipeline import PIPELINE, Step
from shared.settings import Settings
from shared.worker import StepInput, StepResult, StepWorker


async def _never(step: StepInput) -> StepResult:
    raise AssertionError("the handler is not reached in this test")


def _host(store: EventStore, pools: tuple[str, ...], taken: list[tuple[str, str]], name: str) -> StepWorker:
    worker = StepWorker(store, PIPELINE.spec(Step.RENDER), _never, worker_id=name, pools=pools)

    async def take(msg: Msg) -> None:  # stands in for running the render (the consumer runtime acks)
        taken.append((name, msg.subject))

    worker.handle = take  # type: ignore[method-assign]
    return worker


async def test_hosts_take_their_pools_and_any_only(bus: Bus, store: EventStore):
    taken: list[tuple[str, str]] = []
    stop = asyncio.Event()
    gpu = _host(store, ("gpu",), taken, "gpu-host")
    cpu_a, cpu_b = (_host(store, ("cpu",), taken, f"cpu-host-{n}") for n in "ab")
    runs = [asyncio.create_task(host.run(stop)) for host in (gpu, cpu_a, cpu_b)]
    try:
        await asyncio.sleep(0.5)  # every host bound to its durables
        for pool in ["gpu", "gpu", "cpu", "cpu", "cpu", "any", "any", "any", "any"]:
            await bus.js.publish(names.work_subject("render", pool), b"{}", stream=names.WORK_STREAM)
        for _ in range(100):
            if len(taken) == 9:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # nothing more arrives
    finally:
        stop.set()
        await asyncio.gather(*runs)
    assert len(taken) == 9  # each item once
    by_host = {name: [subject.rsplit(".", 1)[1] for n, subject in taken if n == name] for name, _ in taken}
    assert set(by_host["gpu-host"]) <= {"gpu", "any"} and by_host["gpu-host"].count("gpu") == 2
    cpu_taken = by_host.get("cpu-host-a", []) + by_host.get("cpu-host-b", [])
    assert set(cpu_taken) <= {"cpu", "any"} and cpu_taken.count("cpu") == 3


def test_a_host_joins_pools_by_configuration(monkeypatch):
    monkeypatch.setenv("VFO_RENDER_POOL", "gpu,fast-disk")
    assert Settings().render_pools == ["gpu", "fast-disk"]
