"""One consumer runtime for everything that reads NATS JetStream: the conductor, the step workers,
the webhook dispatcher (durable pull consumers) and the projector (an ordered reader that keeps its
own position).

`Durable` is a pull consumer that every instance of one service shares, so each message goes to one
of them. Its policy, stated once for every user:

- the handler returns: ack;
- the handler raises `Redeliver` (or `InfrastructureError`: NATS, a database, a network blip):
  nak, so the message comes back after a delay (`Redeliver.delay_s`, else the backoff for that
  delivery);
- the handler raises anything else: the message cannot be handled and never will be: log it,
  count it (`vfo_consumer_messages_total{outcome="terminated"}`) and term it, so one poisoned
  message never stops the consumer;
- the task is cancelled (the service stops): no ack; the message is redelivered after `ack_wait`.

Every message is handled inside a CONSUMER span that continues the trace its headers carry.
`StreamReader` follows a whole stream in order from a position its user stores (in the same
transaction as what it writes), in batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js import api as js_api

from shared import metrics, telemetry
from shared.bus import TRANSIENT, Bus
from shared.errors import InfrastructureError

log = logging.getLogger(__name__)
OUTAGES: tuple[type[Exception], ...] = (InfrastructureError, *TRANSIENT)
"""A handler failing with one of these is tried again later (NATS, a database, a network blip)."""
BACKOFF_S = (2.0, 10.0, 30.0, 60.0, 120.0)

Handler = Callable[[Msg], Awaitable[None]]


class Redeliver(Exception):
    """Raised by a handler: not now; deliver the message again after `delay_s` (None: the backoff)."""

    def __init__(self, reason: str, delay_s: float | None = None) -> None:
        super().__init__(reason)
        self.delay_s = delay_s


def backoff(delivered: int) -> float:
    """The pause before delivery `delivered + 1`."""
    return BACKOFF_S[min(max(delivered, 1) - 1, len(BACKOFF_S) - 1)]


@dataclass(frozen=True)
class Durable:
    """A durable pull consumer on `subject` of `stream`, shared by every instance of its service."""

    stream: str
    name: str
    subject: str
    ack_wait_s: float = 30.0
    max_deliver: int = -1
    deliver_new: bool = False  # start at the stream's end (else at its beginning)
    max_ack_pending: int = 1000

    def config(self) -> js_api.ConsumerConfig:
        return js_api.ConsumerConfig(
            durable_name=self.name,
            ack_policy=js_api.AckPolicy.EXPLICIT,
            deliver_policy=js_api.DeliverPolicy.NEW if self.deliver_new else js_api.DeliverPolicy.ALL,
            ack_wait=self.ack_wait_s,
            max_deliver=self.max_deliver,
            max_ack_pending=self.max_ack_pending,
            filter_subject=self.subject,
        )

    async def bind(self, bus: Bus) -> JetStreamContext.PullSubscription:
        """Create the consumer if missing (or update it), and pull from it."""
        return await bus.js.pull_subscribe(
            self.subject, durable=self.name, stream=self.stream, config=self.config()
        )


@dataclass
class Consumer:
    """Handles the messages of one or more durables (asked in turn, one batch at a time) until
    stopped. `job_of` names the job a message belongs to, for its span."""

    bus: Bus
    durables: Sequence[Durable]
    handler: Handler
    batch: int = 1
    job_of: Callable[[Msg], str | None] = field(default=lambda _msg: None)

    async def run(self, stop: asyncio.Event) -> None:
        subs = [await durable.bind(self.bus) for durable in self.durables]
        log.info("%s consuming %s", self.bus.service, ", ".join(d.name for d in self.durables))
        if len(subs) == 1:  # a long poll answers as soon as a message is there
            while not stop.is_set():
                await self._take(subs[0], 1.0)
            return
        # Several durables (a render host's pools): a long poll on one would hold up the others. A
        # plain subscription to their subjects says when something was published; then each is
        # asked briefly. Redeliveries publish nothing, so an idle host still looks every second.
        arrived = asyncio.Event()

        async def wake(_msg: Msg) -> None:
            arrived.set()

        watches = [await self.bus.nc.subscribe(d.subject, cb=wake) for d in self.durables]
        try:
            while not stop.is_set():
                arrived.clear()
                handled = 0
                for sub in subs:
                    handled += await self._take(sub, 0.005)
                    if stop.is_set():
                        return
                if not handled:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(arrived.wait(), timeout=1.0)
        finally:
            for watch in watches:
                await watch.unsubscribe()

    async def _take(self, sub: JetStreamContext.PullSubscription, wait: float) -> int:
        """Fetch a batch (waiting up to `wait` seconds for the first message) and handle it."""
        try:
            msgs = await sub.fetch(self.batch, timeout=wait)
        except TimeoutError:  # nats raises its own subclass or plain asyncio.TimeoutError
            if not self.bus.up.is_set():
                await self.bus.recover()
            return 0
        except TRANSIENT as err:  # NATS is away: ask again when it is back (the consumer is durable)
            log.debug("%s: no fetch while NATS is away: %r", self.bus.service, err)
            await self.bus.recover()
            return 0
        for msg in msgs:
            await self.handle(msg)
        return len(msgs)

    async def handle(self, msg: Msg) -> None:
        """Handle one message and ack, nak or term it by the policy above."""
        durable = msg.metadata.consumer or "?"
        delivered = msg.metadata.num_delivered
        try:
            job_id = self.job_of(msg)
        except Exception:  # a message we cannot even name: the handler will say why
            job_id = None
        with telemetry.consumer_span(self.bus.service, msg.subject, msg.headers, job_id):
            try:
                await self.handler(msg)
            except asyncio.CancelledError:
                raise  # stopping: no ack, it comes back after ack_wait
            except Redeliver as again:
                delay = again.delay_s if again.delay_s is not None else backoff(delivered)
                log.info("%s: %s again in %.0fs: %s", durable, msg.subject, delay, again)
                await _settle(msg.nak(delay=delay), durable, "redelivered")
                return
            except OUTAGES as err:
                delay = backoff(delivered)
                log.warning("%s: %s again in %.0fs: %r", durable, msg.subject, delay, err)
                await _settle(msg.nak(delay=delay), durable, "redelivered")
                return
            except Exception:
                log.exception(
                    "%s: terminating %s (delivery %d): it cannot be handled", durable, msg.subject, delivered
                )
                await _settle(msg.term(), durable, "terminated")
                return
        await _settle(msg.ack(), durable, "acked")


async def _settle(reply: Awaitable[None], durable: str, outcome: str) -> None:
    """Ack, nak or term. While NATS is away the reply cannot go: the message comes back after
    ack_wait, and its handler sees the work is done (every handler is idempotent)."""
    try:
        await reply
    except TRANSIENT as err:
        log.warning(
            "%s: could not tell NATS the message was %s (%r); it will come back", durable, outcome, err
        )
        outcome = "unsettled"
    metrics.CONSUMED.labels(durable, outcome).inc()


def skip_unreadable(reader: str, subject: str, seq: int, err: Exception) -> None:
    """What every reader of JOB_EVENTS does with a message it cannot read: say where and why, count
    it, and go on (the stream is append-only: one bad entry must not stop a reader for good)."""
    log.error("%s: skipping the unreadable message %d on %s: %s", reader, seq, subject, err)
    metrics.UNREADABLE.labels(reader).inc()


class StreamReader:
    """Reads `subject` of `stream` in order from `after_seq + 1`, in batches of up to `batch`
    messages, through an ordered consumer (no server state: the reader keeps its position)."""

    def __init__(self, bus: Bus, stream: str, subject: str, batch: int = 500) -> None:
        self.bus = bus
        self.stream = stream
        self.subject = subject
        self.batch = batch

    async def run(
        self, after_seq: int, handle: Callable[[list[Msg]], Awaitable[None]], stop: asyncio.Event
    ) -> None:
        position = after_seq
        while not stop.is_set():
            # the server forgets an ordered consumer across a restart: after each reconnection,
            # start a new one where this reader is
            seen = self.bus.reconnects
            config = js_api.ConsumerConfig(
                deliver_policy=js_api.DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=position + 1
            )
            try:
                sub = await self.bus.js.subscribe(self.subject, ordered_consumer=True, config=config)
            except TRANSIENT as err:
                log.info("%s: cannot follow %s while NATS is away: %r", self.bus.service, self.stream, err)
                await self.bus.recover()
                continue
            try:
                while not stop.is_set() and self.bus.reconnects == seen:
                    try:
                        batch = [await sub.next_msg(timeout=0.5)]
                    except TimeoutError:  # nats raises its own subclass or plain asyncio.TimeoutError
                        continue
                    while sub.pending_msgs > 0 and len(batch) < self.batch:
                        try:  # pending_msgs also counts heartbeats and flow control, which next_msg skips
                            batch.append(await sub.next_msg(timeout=0.01))
                        except TimeoutError:
                            break
                    await handle(batch)
                    position = batch[-1].metadata.sequence.stream
            finally:
                with contextlib.suppress(*TRANSIENT):
                    await sub.unsubscribe()
