"""`vfo backup`: a consistent copy of everything that cannot be rebuilt, made while the stack runs.

A backup is a folder `vfo-backup-<UTC time>/` (mode 700) holding:

    streams/<STREAM>.tar.s2, .json   JetStream's own snapshot of each stream, with its consumers
                                     (`vfo.snapshots`): WORK, JOB_EVENTS, the KV buckets `config`
                                     (registry items, board settings, templates) and `auth` (API
                                     keys, hashed), the object store `artifacts`
    tables/<table>.jsonl             the registry's and the webhooks service's tables
    secrets/secret.key, admin-key    the instance's secret (it encrypts the webhook secrets) and
                                     the first admin key: a backup is as private as the data dir
    manifest.json                    what is in it, with counts
    SHA256SUMS                       a checksum for every file above (`sha256sum -c` reads it)

The board's tables are not in it: they are a projection, rebuilt from the events on restore.

Consistency across streams: JetStream copies each stream as a running server can (writers go on
meanwhile), one after the other, so the copies are of slightly different moments. They are taken in
an order that keeps what matters true: the events after the work queue, so any work item missing
from the copy was done (or was handed out after it) and its job is read from the later copy; the
artifacts after the events, so every artifact an event names is there; the tables last, so every
webhook delivery that the copied consumer counts as made is in them. What was in flight at that
moment (a step running, or waiting for a worker) cannot come back as it was, since its worker is
gone: restore records it as interrupted and asks for the step again (`vfo.restore`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nats.js.errors import NoKeysError, NotFoundError

from shared import names
from shared.auth import ADMIN_KEY_FILE
from shared.bus import Bus
from shared.db.engine import make_engine
from shared.errors import InvalidInput
from shared.settings import Settings
from vfo import snapshots, tablecopy

log = logging.getLogger(__name__)

FORMAT = 1
PREFIX = "vfo-backup-"
MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
SECRET_KEY_FILE = "secret.key"  # noqa: S105 (a file name)
SECRETS = (SECRET_KEY_FILE, ADMIN_KEY_FILE)
STALE_PARTIAL_S = 24 * 3600


def kv_stream(bucket: str) -> str:
    return f"KV_{bucket}"  # how JetStream names a key-value bucket's stream


def object_stream(bucket: str) -> str:
    return f"OBJ_{bucket}"  # and an object store's


# In the order they are copied (see the module's docstring) and restored.
STREAMS = (
    names.WORK_STREAM,
    names.GIVE_UPS_STREAM,
    names.JOB_EVENTS_STREAM,
    kv_stream(names.CONFIG_BUCKET),
    kv_stream(names.AUTH_BUCKET),
    object_stream(names.ARTIFACTS_BUCKET),
)


@dataclass(frozen=True)
class Made:
    path: Path
    size_bytes: int
    seconds: float
    summary: dict[str, int]


def stream_files(stream: str) -> tuple[str, str]:
    return f"streams/{stream}.json", f"streams/{stream}.tar.s2"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as data:
        while block := data.read(1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


def _write(path: Path, data: bytes, sums: dict[str, str], root: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(0o600)
    sums[path.relative_to(root).as_posix()] = hashlib.sha256(data).hexdigest()


async def _save_stream(bus: Bus, stream: str, root: Path, sums: dict[str, str]) -> dict[str, Any]:
    meta_file, data_file = stream_files(stream)
    (root / data_file).parent.mkdir(parents=True, exist_ok=True)
    meta, digest = await snapshots.save(bus.nc, stream, root / data_file)
    (root / data_file).chmod(0o600)
    sums[data_file] = digest
    _write(root / meta_file, json.dumps(meta, indent=2).encode(), sums, root)
    return meta


async def count_content(bus: Bus) -> dict[str, int]:
    """What a person would call the factory's content: artifacts, configuration items, API keys."""
    try:
        artifacts = len(await (await bus.artifacts()).list(ignore_deletes=True))
    except NotFoundError:
        artifacts = 0
    counts = {"artifacts": artifacts}
    for label, kv in (("config_items", await bus.config()), ("api_keys", await bus.auth())):
        try:
            keys = await kv.keys()
        except NoKeysError:
            keys = []
        counts[label] = len([k for k in keys if label != "api_keys" or k.startswith("key.")])
    return counts


def in_words(summary: dict[str, int]) -> str:
    """A backup's (or a factory's) summary as a person reads it."""
    return (
        f"{summary['jobs']} jobs, {summary['events']} events, {summary['artifacts']} artifacts, "
        f"{summary['config_items']} configuration items, {summary['api_keys']} API keys"
    )


def _new_folder(parent: Path) -> tuple[Path, Path]:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    final = parent / f"{PREFIX}{stamp}"
    n = 1
    while final.exists():
        n += 1
        final = parent / f"{PREFIX}{stamp}-{n}"
    partial = parent / f".{final.name}.partial"
    partial.mkdir(mode=0o700, parents=True)
    return final, partial


async def make_backup(settings: Settings, out: Path | None = None, keep: int | None = None) -> Made:
    """Back up the factory that `settings` point at (NATS_URL must be set) into a new folder in
    `out` (else the settings' backup folder), then keep only the newest `keep` backups there."""
    assert settings.nats_url, "the caller connects the stack's NATS (or starts the embedded one)"
    began = time.monotonic()
    parent = out or settings.resolved_backup_dir()
    parent.mkdir(parents=True, exist_ok=True)
    final, root = _new_folder(parent)
    sums: dict[str, str] = {}
    bus = await Bus.connect(settings.nats_url, "vfo-backup")
    engine = make_engine(settings.resolved_database_url())
    try:
        await bus.ensure()
        streams = {stream: (await _save_stream(bus, stream, root, sums))["state"] for stream in STREAMS}
        events = streams[names.JOB_EVENTS_STREAM]
        tables = await tablecopy.dump(engine, root)
        for table in tablecopy.TABLES:
            path = root / tablecopy.file_of(table)
            path.chmod(0o600)
            sums[tablecopy.file_of(table)] = await asyncio.to_thread(sha256_of, path)
        secrets = []
        for name in SECRETS:
            source = settings.data_dir / name
            if source.is_file() and not (name == SECRET_KEY_FILE and settings.secret_key is not None):
                _write(root / "secrets" / name, source.read_bytes(), sums, root)
                secrets.append(name)
        summary = {
            "jobs": int(events.get("num_subjects", 0)),
            "events": int(events["messages"]),
            **await count_content(bus),
        }
        manifest = {
            "format": FORMAT,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "secret_key": "file" if SECRET_KEY_FILE in secrets else "environment (VFO_SECRET_KEY)",
            "summary": summary,
            "streams": {
                name: {k: streams[name].get(k) for k in ("messages", "bytes", "last_seq")} for name in streams
            },
            "tables": tables,
            "secrets": secrets,
            "files": sorted(sums),
        }
        _write(root / MANIFEST, json.dumps(manifest, indent=2).encode(), sums, root)
        lines = "".join(f"{digest}  {name}\n" for name, digest in sorted(sums.items()))
        (root / SUMS).write_text(lines, encoding="utf-8")
        (root / SUMS).chmod(0o600)
        rotate(parent, (keep or settings.backup_keep) - 1)  # with this one, never more than `keep`
        root.rename(final)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    finally:
        await engine.dispose()
        await bus.close()
    size = sum(p.stat().st_size for p in final.rglob("*") if p.is_file())
    return Made(final, size, time.monotonic() - began, summary)


_NAME = re.compile(rf"{PREFIX}(\d{{8}}T\d{{6}}Z)(?:-(\d+))?")


def _made_at(backup: Path) -> tuple[str, int]:
    """When a backup was made: its time, then its number within that second."""
    match = _NAME.fullmatch(backup.name)
    assert match
    return match.group(1), int(match.group(2) or 1)


def backups_in(parent: Path) -> list[Path]:
    """The complete backups in `parent`, oldest first."""
    if not parent.is_dir():
        return []
    found = [p for p in parent.iterdir() if _NAME.fullmatch(p.name) and (p / SUMS).is_file()]
    return sorted(found, key=_made_at)


def rotate(parent: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` backups (and what a backup that died half-way left, after
    a day); returns what was deleted."""
    found = backups_in(parent)
    old = found[: max(len(found) - keep, 0)]
    stale = [
        p for p in parent.glob(f".{PREFIX}*.partial") if time.time() - p.stat().st_mtime > STALE_PARTIAL_S
    ]
    for path in old + stale:
        shutil.rmtree(path, ignore_errors=True)
    return old


_SUM_LINE = re.compile(r"([0-9a-f]{64}) [ *](.+)")


def verify(backup: Path) -> dict[str, Any]:
    """Check every file against SHA256SUMS before anything is touched; returns the manifest.
    A damaged or incomplete backup is refused, naming the file."""
    sums_file = backup / SUMS
    if not sums_file.is_file():
        raise InvalidInput("backup", f"{backup} is not a Video Factory backup (it has no {SUMS})")
    listed: dict[str, str] = {}
    for number, line in enumerate(sums_file.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        match = _SUM_LINE.fullmatch(line)
        if not match or ".." in Path(match.group(2)).parts or Path(match.group(2)).is_absolute():
            raise InvalidInput("backup", f"{SUMS} is damaged (line {number}); use another backup")
        listed[match.group(2)] = match.group(1)
    for name, digest in listed.items():
        path = backup / name
        if not path.is_file():
            raise InvalidInput("backup", f"{name} is missing from {backup}; use another backup")
        if sha256_of(path) != digest:
            raise InvalidInput(
                "backup", f"{name} does not match its checksum: the backup is damaged; use another backup"
            )
    if MANIFEST not in listed:
        raise InvalidInput("backup", f"{MANIFEST} is not listed in {SUMS}; use another backup")
    manifest: dict[str, Any] = json.loads((backup / MANIFEST).read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT:
        raise InvalidInput("backup", f"backup format {manifest.get('format')} is not one this version reads")
    unlisted = [name for name in manifest["files"] if name not in listed]
    if unlisted:
        raise InvalidInput("backup", f"{unlisted[0]} has no checksum in {SUMS}; use another backup")
    return manifest


async def every(settings: Settings, interval_s: float, stop: asyncio.Event) -> None:
    """`vfo up --backup-every`: a backup every `interval_s` until `stop`. A backup that fails is
    logged and tried again at the next interval; it never stops the factory."""
    while True:
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval_s)
            return
        except TimeoutError:
            pass
        try:
            made = await make_backup(settings)
            log.info("backup %s (%d bytes, %.1f s)", made.path, made.size_bytes, made.seconds)
        except Exception:
            log.exception("the scheduled backup failed; the next one is due in %.0f s", interval_s)
