"""Standard Webhooks signatures (`webhook-id`, `webhook-timestamp`, `webhook-signature`), and the
signing secrets, encrypted at rest with VFO_SECRET_KEY (generated into the data dir when unset)."""

from __future__ import annotations

import base64
import json
import secrets
from datetime import UTC, datetime, timedelta

from cryptography.fernet import Fernet
from standardwebhooks.webhooks import Webhook

from shared.auth import secret_key
from shared.settings import Settings

ROTATION_GRACE = timedelta(hours=24)


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def secret_box(settings: Settings) -> Fernet:
    return Fernet(secret_key(settings))


class Secrets:
    """A subscription's secrets: the current one, plus the previous one during a rotation's grace."""

    def __init__(self, box: Fernet) -> None:
        self.box = box

    def seal(self, entries: list[dict[str, str | None]]) -> str:
        return self.box.encrypt(json.dumps(entries).encode()).decode()

    def open(self, sealed: str) -> list[dict[str, str | None]]:
        entries: list[dict[str, str | None]] = json.loads(self.box.decrypt(sealed.encode()))
        return entries

    def valid(self, sealed: str, now: datetime) -> list[str]:
        return [
            str(e["secret"])
            for e in self.open(sealed)
            if e.get("expires_at") is None or datetime.fromisoformat(str(e["expires_at"])) > now
        ]

    def rotated(self, sealed: str, now: datetime) -> tuple[str, str]:
        """A new secret first; the old ones stay valid for ROTATION_GRACE. Returns (sealed, new secret)."""
        fresh = new_secret()
        old = [
            {"secret": e["secret"], "expires_at": e.get("expires_at") or (now + ROTATION_GRACE).isoformat()}
            for e in self.open(sealed)
        ]
        return self.seal([{"secret": fresh, "expires_at": None}, *old]), fresh


def headers(
    secret_list: list[str], message_id: str, body: str, now: datetime | None = None
) -> dict[str, str]:
    """The three Standard Webhooks headers; one signature per valid secret (rotation)."""
    stamp = (now or datetime.now(UTC)).replace(microsecond=0)
    signatures = " ".join(Webhook(s).sign(msg_id=message_id, timestamp=stamp, data=body) for s in secret_list)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(stamp.timestamp())),
        "webhook-signature": signatures,
        "content-type": "application/json",
    }
