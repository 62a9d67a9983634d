"""What `vfo restore` checks before it touches anything, beyond the checksums (`backup.verify`):
that the backup is complete and that its files parse.

- the manifest has every section and lists every stream (`backup.STREAMS`: its JetStream snapshot
  and description) and every table (`tablecopy.TABLES`);
- each stream's description names that stream, with a state whose message count and last sequence
  are the manifest's; each snapshot starts as JetStream writes one (an S2 stream);
- every line of every table file is a row this version can write (known columns, valid times), as
  many rows as the manifest says;
- every secret the manifest names is in the backup.

A snapshot's content is read only by the server as it restores it: a part that is damaged but
carries a matching checksum (made so on purpose, or by a bug) is found then, and the restore puts
back what was there (`vfo.restore`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shared.errors import InvalidInput
from vfo import tablecopy
from vfo.backup import MANIFEST, SECRETS, STREAMS, stream_files

SECTIONS = ("summary", "streams", "tables", "secrets", "files")
# the stream identifier chunk of an S2 stream (Snappy's framing, S2's magic), as the server writes it
S2_MAGIC = b"\xff\x06\x00\x00S2sTwO"


def _damaged(name: str, what: str) -> InvalidInput:
    return InvalidInput("backup", f"{name} {what}: the backup is damaged or incomplete; use another backup")


def _stream(backup: Path, stream: str, listed: dict[str, Any]) -> None:
    meta_file, data_file = stream_files(stream)
    try:
        meta = json.loads((backup / meta_file).read_text(encoding="utf-8"))
        name, state = meta["config"]["name"], meta["state"]
        messages, last_seq = int(state["messages"]), int(state["last_seq"])
    except (ValueError, KeyError, TypeError) as err:
        raise _damaged(meta_file, f"does not describe a stream ({type(err).__name__}: {err})") from err
    if name != stream:
        raise _damaged(meta_file, f"describes the stream {name!r}, not {stream}")
    if (messages, last_seq) != (listed.get("messages"), listed.get("last_seq")):
        raise _damaged(meta_file, f"holds {messages} messages, the manifest says {listed.get('messages')}")
    with (backup / data_file).open("rb") as data:
        if data.read(len(S2_MAGIC)) != S2_MAGIC:
            raise _damaged(data_file, "is not a JetStream snapshot")


def _table(backup: Path, table: Any, expected: object) -> None:
    name = tablecopy.file_of(table)
    rows = 0
    with (backup / name).open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                tablecopy.decode(table, line)
            except (ValueError, TypeError) as err:  # not JSON, not an object, a time that is not one
                raise _damaged(name, f"line {number} is not a row ({err})") from err
            rows += 1
    if rows != expected:
        raise _damaged(name, f"holds {rows} rows, the manifest says {expected}")


def check(backup: Path, manifest: dict[str, Any]) -> None:
    """Refuse `backup` (its checksums verified, `manifest` read) unless it is complete and every
    file parses, naming the first file that does not."""
    missing = [section for section in SECTIONS if not isinstance(manifest.get(section), dict | list)]
    if missing:
        raise _damaged(MANIFEST, f"has no {missing[0]!r}")
    files = set(manifest["files"])
    wanted = [name for stream in STREAMS for name in stream_files(stream)]
    wanted += [tablecopy.file_of(table) for table in tablecopy.TABLES]
    wanted += [f"secrets/{name}" for name in manifest["secrets"]]
    absent = [name for name in wanted if name not in files]
    if absent:
        raise _damaged(absent[0], "is not in the backup")
    unknown = [name for name in manifest["secrets"] if name not in SECRETS]
    if unknown:
        raise _damaged(MANIFEST, f"names a secret this version does not know ({unknown[0]})")
    for stream in STREAMS:
        _stream(backup, stream, manifest["streams"].get(stream) or {})
    for table in tablecopy.TABLES:
        _table(backup, table, manifest["tables"].get(table.name))
