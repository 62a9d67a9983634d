"""JetStream's own stream snapshots, which nats-py does not wrap: a stream's messages (subjects,
headers, sequences and deleted gaps exactly as stored, so `Nats-Expected-Last-Subject-Sequence`
still holds after a restore) and its consumers' state, as the server's s2-compressed tar.

- `save(nc, stream, path)`: ask `$JS.API.STREAM.SNAPSHOT.<stream>` to send the snapshot to an inbox
  in chunks; answer each chunk's reply subject (the server's flow control); an empty message ends
  it (with a status header when the server failed). Returns the stream's config and state.
- `load(nc, meta, path)`: `$JS.API.STREAM.RESTORE.<stream>` (the stream must not exist) names a
  subject; send the chunks there as requests, then an empty one; the answer is the new stream.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from shared.errors import InfrastructureError

SNAPSHOT_API = "$JS.API.STREAM.SNAPSHOT.{stream}"
RESTORE_API = "$JS.API.STREAM.RESTORE.{stream}"
CHUNK = 128 * 1024
API_TIMEOUT_S = 10.0
IDLE_TIMEOUT_S = 30.0  # the server itself gives up after 5 s without an ack


def _answer(msg: Msg, what: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(msg.data)
    if body.get("error"):
        error = body["error"]
        raise InfrastructureError(f"JetStream refused to {what}: {error.get('description', error)}")
    return body


async def save(nc: NATS, stream: str, path: Path) -> tuple[dict[str, Any], str]:
    """Snapshot `stream` (with its consumers) into `path`; returns (config and state, sha256)."""
    inbox = nc.new_inbox()
    ended: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
    digest = hashlib.sha256()
    chunks = 0
    with path.open("wb") as out:

        async def on_chunk(msg: Msg) -> None:
            nonlocal chunks
            chunks += 1
            if not msg.data:  # the end; a status other than 204 says why it failed
                status = (msg.headers or {}).get("Status")
                failure = None if status in (None, "204") else f"{status} {msg.headers or ''}"
                if not ended.done():
                    ended.set_result(failure)
                return
            out.write(msg.data)
            digest.update(msg.data)
            if msg.reply:
                await nc.publish(msg.reply, b"")

        sub = await nc.subscribe(inbox, cb=on_chunk, pending_msgs_limit=-1, pending_bytes_limit=-1)
        try:
            request = {"deliver_subject": inbox, "no_consumers": False, "chunk_size": CHUNK}
            response = await nc.request(
                SNAPSHOT_API.format(stream=stream), json.dumps(request).encode(), timeout=API_TIMEOUT_S
            )
            meta = _answer(response, f"snapshot {stream}")
            seen = -1
            while not ended.done():
                if chunks == seen:
                    raise InfrastructureError(f"the snapshot of {stream} stalled")
                seen = chunks
                await asyncio.wait([ended], timeout=IDLE_TIMEOUT_S)
            failure = ended.result()
            if failure:
                raise InfrastructureError(f"the snapshot of {stream} failed: {failure}")
        finally:
            await sub.unsubscribe()
    return {"config": meta["config"], "state": meta["state"]}, digest.hexdigest()


async def load(nc: NATS, meta: dict[str, Any], path: Path) -> dict[str, Any]:
    """Restore the stream `meta` describes from the snapshot in `path`; returns its new state."""
    stream = meta["config"]["name"]
    response = await nc.request(
        RESTORE_API.format(stream=stream),
        json.dumps({"config": meta["config"], "state": meta["state"]}).encode(),
        timeout=API_TIMEOUT_S,
    )
    target = _answer(response, f"restore {stream}")["deliver_subject"]
    with path.open("rb") as data:
        while chunk := data.read(CHUNK):
            answer = await nc.request(target, chunk, timeout=API_TIMEOUT_S)
            if answer.data:
                _answer(answer, f"restore {stream}")
    done = await nc.request(target, b"", timeout=600)  # the server now builds the stream
    state: dict[str, Any] = _answer(done, f"restore {stream}")["state"]
    return state
