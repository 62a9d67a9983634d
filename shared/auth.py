"""Who is calling, and what they may do.

- An API key belongs to one project, or to every project (`*`: the instance's own admin key), and
  carries one role: `viewer` reads; `operator` also creates and drives jobs; `admin` also manages
  configuration, keys and webhooks. A key reads `vfo_<id>_<secret>`. Only the SHA-256 of the secret
  is kept (the secret is 256 random bits, so a slow password hash would add nothing), in the KV
  bucket `auth`: every service checks keys against its own in-memory mirror, and a revocation
  reaches all of them within milliseconds.
- A browser logs in with a key once and then carries a signed session cookie (HttpOnly,
  SameSite=Strict); a request that changes something with that cookie must also send the session's
  CSRF token in `X-CSRF-Token` (the page reads it from the `vfo_csrf` cookie).
- Artifact links handed to other systems (webhooks) carry an expiry and a signature instead of a key.
- Each key has a request budget (`VFO_RATE_LIMIT`); over it the answer is `429` with `Retry-After`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import math
import os
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from itsdangerous import BadSignature, Signer, URLSafeTimedSerializer
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError, NoKeysError
from nats.js.kv import KV_DEL, KV_PURGE
from pydantic import BaseModel, ConfigDict, Field

from shared.bus import TRANSIENT, Bus
from shared.errors import Forbidden, InvalidInput, NotFound, RateLimited, Unauthenticated
from shared.settings import Settings

log = logging.getLogger(__name__)

EVERY_PROJECT = "*"
PROJECT_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
SESSION_COOKIE = "vfo_session"
CSRF_COOKIE = "vfo_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
ADMIN_KEY_FILE = "admin-key"
_TOKEN = re.compile(r"^vfo_([a-z0-9]{16})_([A-Za-z0-9_-]{43})$")
_BOOTSTRAP = "bootstrap"


ProjectChoice = Annotated[
    str | None,
    Field(
        pattern=rf"{PROJECT_PATTERN}|^\*$",
        description="only keys of every project choose (`*`: every project); others act for their own",
    ),
]
"""A request's optional `project` field."""


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"


RANK = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}


class StoredKey(BaseModel):
    """What the `auth` bucket keeps of a key: never the key itself."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    project: str
    role: Role
    secret_sha256: str
    created_at: datetime
    created_by: str = ""
    revoked_at: datetime | None = None


@dataclass(frozen=True)
class Principal:
    key_id: str
    name: str
    project: str
    role: Role

    @property
    def everywhere(self) -> bool:
        return self.project == EVERY_PROJECT

    @property
    def scope(self) -> str | None:
        """The one project this caller may see, or None for every project (for queries)."""
        return None if self.everywhere else self.project

    def sees(self, project: str) -> bool:
        return self.everywhere or self.project == project

    def allows(self, role: Role) -> bool:
        return RANK[self.role] >= RANK[role]

    def require(self, role: Role) -> None:
        if not self.allows(role):
            raise Forbidden(f"this needs the {role} role; the key {self.name!r} has the {self.role} role")

    def require_every_project(self, what: str) -> None:
        """An admin of every project: for what all projects share (`what` says why, for the 403)."""
        self.require(Role.ADMIN)
        if not self.everywhere:
            raise Forbidden(f"{what} concerns every project; use an admin key of every project (*)")

    def project_for(self, asked: str | None) -> str:
        """The project a new thing belongs to: the key's own, or (every-project keys) the one asked."""
        if self.everywhere:
            return asked or "default"
        if asked == EVERY_PROJECT:
            raise Forbidden(
                f"this key belongs to project {self.project!r}; only keys of every project act for *"
            )
        if asked not in (None, self.project):
            raise Forbidden(f"this key belongs to project {self.project!r}; it cannot act for {asked!r}")
        return self.project


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _key_entry(key_id: str) -> str:
    return f"key.{key_id}"


class KeyRing:
    """The API keys, mirrored from the `auth` bucket (run `follow()` for the life of the service)."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self._keys: dict[str, StoredKey] = {}
        self._warm = asyncio.Event()

    async def follow(self) -> None:
        """Mirror the keys until cancelled, watching again after each NATS outage."""
        await self.bus.follow("the API keys", self._watch)

    async def _watch(self) -> None:
        kv = await self.bus.auth()
        watcher = await kv.watch("key.*")
        keys: dict[str, StoredKey] = {}  # read whole again: a key revoked while away must go
        try:
            async for entry in watcher:
                if entry is None:
                    self._keys = keys
                    self._warm.set()
                    continue
                key_id = entry.key.removeprefix("key.")
                if entry.operation in (KV_DEL, KV_PURGE) or not entry.value:
                    keys.pop(key_id, None)
                else:
                    keys[key_id] = StoredKey.model_validate_json(entry.value)
        finally:
            self._warm.clear()
            with contextlib.suppress(*TRANSIENT):
                await watcher.stop()

    async def stored(self, key_id: str) -> StoredKey | None:
        if self._warm.is_set():
            return self._keys.get(key_id)
        try:
            entry = await (await self.bus.auth()).get(_key_entry(key_id))
        except KeyNotFoundError:
            return None
        return StoredKey.model_validate_json(entry.value) if entry.value else None

    @staticmethod
    def _caller(key: StoredKey | None) -> Principal | None:
        if key is None or key.revoked_at is not None:
            return None
        return Principal(key.id, key.name, key.project, key.role)

    async def principal(self, key_id: str) -> Principal | None:
        """The caller a key id stands for, unless the key is unknown or revoked."""
        return self._caller(await self.stored(key_id))

    async def verify(self, token: str) -> Principal | None:
        match = _TOKEN.match(token.strip())
        if not match:
            return None
        key = await self.stored(match.group(1))
        if key is None or not hmac.compare_digest(key.secret_sha256, _digest(match.group(2))):
            return None
        return self._caller(key)

    async def list(self, project: str | None) -> list[StoredKey]:
        """Every key (of one project, when given), newest first, from the bucket itself."""
        kv = await self.bus.auth()
        try:
            names = await kv.keys()
        except NoKeysError:  # an empty bucket
            names = []
        keys = []
        for name in names:
            if name.startswith("key."):
                key = await self.stored(name.removeprefix("key."))
                if key is not None and (project is None or key.project == project):
                    keys.append(key)
        return sorted(keys, key=lambda k: k.created_at, reverse=True)

    async def create(self, name: str, project: str, role: Role, created_by: str) -> tuple[str, StoredKey]:
        """A new key: the token (to show once) and what is stored of it."""
        if project != EVERY_PROJECT and not re.match(PROJECT_PATTERN, project):
            raise InvalidInput("project", "use lowercase letters, digits and dashes (or * for every project)")
        key_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        key = StoredKey(
            id=key_id,
            name=name,
            project=project,
            role=role,
            secret_sha256=_digest(secret),
            created_at=datetime.now(UTC),
            created_by=created_by,
        )
        await (await self.bus.auth()).create(_key_entry(key_id), key.model_dump_json().encode())
        self._keys[key_id] = key
        return f"vfo_{key_id}_{secret}", key

    async def revoke(self, key_id: str, project: str | None) -> StoredKey:
        """Revoke a key (kept, marked, for the record); 404 for keys outside `project`."""
        key = await self.stored(key_id)
        if key is None or (project is not None and key.project != project):
            raise NotFound(f"no API key with id {key_id}")
        if key.revoked_at is None:
            key = key.model_copy(update={"revoked_at": datetime.now(UTC)})
            await (await self.bus.auth()).put(_key_entry(key_id), key.model_dump_json().encode())
            self._keys[key_id] = key
        return key

    async def bootstrap(self, data_dir: Path) -> str | None:
        """On the very first start, make the instance's admin key and write it to
        `<data-dir>/admin-key` (mode 600). Returns the file's path when this call made it."""
        kv = await self.bus.auth()
        try:
            await kv.create(_BOOTSTRAP, datetime.now(UTC).isoformat().encode())
        except KeyWrongLastSequenceError:
            return None  # made before (by this or another instance)
        token, _ = await self.create("first admin", EVERY_PROJECT, Role.ADMIN, "bootstrap")
        path = data_dir / ADMIN_KEY_FILE
        write_private(path, token + "\n")
        return str(path)


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (mode 600), replacing any older one atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(text)
    partial.replace(path)


def local_key(settings: Settings) -> str | None:
    """The key the `vfo` commands use: `VFO_API_KEY`, else `<data-dir>/admin-key`."""
    if settings.api_key is not None:
        return settings.api_key.get_secret_value()
    with contextlib.suppress(OSError):
        return (settings.data_dir / ADMIN_KEY_FILE).read_text().strip() or None
    return None


def secret_key(settings: Settings) -> bytes:
    """The instance's secret (`VFO_SECRET_KEY`, else generated once into `<data-dir>/secret.key`):
    it encrypts webhook secrets and signs sessions and links, so every service must share it."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    path = settings.data_dir / "secret.key"
    if not path.exists():
        from cryptography.fernet import Fernet

        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".secret.key.{os.getpid()}")
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as out:
            out.write(Fernet.generate_key())
        with contextlib.suppress(FileExistsError):  # another service made it first: keep theirs
            os.link(partial, path)
        partial.unlink()
    return path.read_bytes().strip()


class Tokens:
    """Signed session cookies and signed, expiring artifact links."""

    def __init__(self, secret: bytes, session_ttl_s: int) -> None:
        self.session_ttl_s = session_ttl_s
        self._sessions = URLSafeTimedSerializer(secret, salt="vfo-session")
        self._links = Signer(secret, salt="vfo-link")

    def session(self, key_id: str) -> tuple[str, str]:
        """A session cookie for `key_id`, and its CSRF token."""
        csrf = secrets.token_urlsafe(24)
        return self._sessions.dumps({"k": key_id, "c": csrf}), csrf

    def read_session(self, token: str) -> tuple[str, str] | None:
        try:
            data = self._sessions.loads(token, max_age=self.session_ttl_s)
        except BadSignature:
            return None
        return str(data["k"]), str(data["c"])

    def link(self, path: str, ttl_s: int) -> str:
        """`path` with `?expires=<unix time>&signature=...`, good until then, for GET only."""
        expires = int(time.time()) + ttl_s
        signature = self._links.get_signature(f"{path}|{expires}").decode()
        return f"{path}?expires={expires}&signature={signature}"

    def check_link(self, path: str, expires: str, signature: str) -> bool:
        if not expires.isdigit() or int(expires) < time.time():
            return False
        return self._links.verify_signature(f"{path}|{expires}", signature)


class Access:
    """What a service's HTTP layer needs to know who is calling (`app.state.access`).

    Use it as `async with Access.of(bus, settings) as access:` so its key mirror follows the bucket.
    """

    def __init__(self, keys: KeyRing, tokens: Tokens, rate_limit: str) -> None:
        self.keys = keys
        self.tokens = tokens
        self._limit = parse(rate_limit)
        self._login_limit = parse("20/minute")
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    @classmethod
    def of(cls, bus: Bus, settings: Settings) -> Access:
        return cls(KeyRing(bus), Tokens(secret_key(settings), settings.session_ttl_s), settings.rate_limit)

    async def __aenter__(self) -> Access:
        self._following = asyncio.create_task(self.keys.follow(), name="keys")
        return self

    async def __aexit__(self, *_: object) -> None:
        self._following.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._following

    def spend(self, who: str, login: bool = False) -> None:
        """One request from `who`; RateLimited once its budget is spent."""
        limit = self._login_limit if login else self._limit
        if not self._limiter.hit(limit, who):
            reset = self._limiter.get_window_stats(limit, who).reset_time
            raise RateLimited(max(1, math.ceil(reset - time.time())))

    async def authenticate(self, request: Request, bearer: str | None, session: str | None) -> Principal:
        principal = await self._identify(request, bearer, session)
        self.spend(principal.key_id)
        request.state.principal = principal
        return principal

    async def _identify(self, request: Request, bearer: str | None, session: str | None) -> Principal:
        if bearer:
            principal = await self.keys.verify(bearer)
            if principal is None:
                raise Unauthenticated("this API key is not valid or was revoked; ask an admin for a new one")
            return principal
        if session:
            opened = self.tokens.read_session(session)
            principal = await self.keys.principal(opened[0]) if opened else None
            if opened is None or principal is None:
                raise Unauthenticated("your session has ended; log in again at /login")
            sent = request.headers.get(CSRF_HEADER, "")
            if request.method not in SAFE_METHODS and not hmac.compare_digest(sent, opened[1]):
                raise Forbidden(f"missing or wrong {CSRF_HEADER} header; reload the page and try again")
            return principal
        query = request.query_params
        if request.method in SAFE_METHODS and "signature" in query:
            if self.tokens.check_link(request.url.path, query.get("expires", ""), query["signature"]):
                return Principal(f"link:{request.url.path}", "signed link", EVERY_PROJECT, Role.VIEWER)
            raise Unauthenticated("this link has expired or was altered; ask for a fresh one")
        raise Unauthenticated("send `Authorization: Bearer <API key>`, or log in at /login")


_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer vfo_...`")
_cookie = APIKeyCookie(
    name=SESSION_COOKIE, auto_error=False, description="A browser session (POST /api/v1/session)"
)


async def _caller(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    session: Annotated[str | None, Depends(_cookie)],
) -> Principal:
    access: Access = request.app.state.access
    return await access.authenticate(request, bearer.credentials if bearer else None, session)


Caller = Annotated[Principal, Depends(_caller)]
"""The authenticated caller of a request (401 without a valid key, session or signed link)."""


def requires(write: Role, read: Role = Role.VIEWER) -> Any:
    """A router-wide guard: reads need `read`, anything that changes something needs `write`."""

    async def guard(request: Request, caller: Caller) -> None:
        caller.require(read if request.method in SAFE_METHODS else write)

    return Depends(guard)
