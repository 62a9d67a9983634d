"""Standard Webhooks signatures, checked with the official library as a receiver would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from services.webhooks import signing, ssrf
from shared.errors import InvalidInput

BODY = '{"type":"job.completed","data":{"job_id":"j"}}'


def test_signature_matrix():
    secret, other = signing.new_secret(), signing.new_secret()
    headers = signing.headers([secret], "msg_1", BODY)
    assert Webhook(secret).verify(BODY, headers)["type"] == "job.completed"  # valid
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace("j", "k"), headers)  # tampered body
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(BODY, headers)  # wrong secret
    stale = signing.headers([secret], "msg_1", BODY, datetime.now(UTC) - timedelta(minutes=10))
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, stale)  # stale timestamp
    for missing in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        with pytest.raises(WebhookVerificationError):
            Webhook(secret).verify(BODY, {k: v for k, v in headers.items() if k != missing})


def test_rotation_signs_with_both_secrets_during_the_grace_period():
    box = signing.Secrets(Fernet(Fernet.generate_key()))
    now = datetime.now(UTC)
    sealed = box.seal([{"secret": signing.new_secret(), "expires_at": None}])
    old = box.valid(sealed, now)[0]
    rotated, fresh = box.rotated(sealed, now)
    headers = signing.headers(box.valid(rotated, now), "msg_2", BODY)
    assert Webhook(fresh).verify(BODY, headers) and Webhook(old).verify(BODY, headers)
    assert box.valid(rotated, now + signing.ROTATION_GRACE + timedelta(seconds=1)) == [fresh]
    assert old not in rotated  # at rest, secrets are encrypted


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://0x7f000001/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[::1]/hook",
        "ftp://example.com/hook",
        "http://user:pass@example.com/hook",
    ],
)
async def test_internal_and_odd_addresses_are_refused(url: str):
    with pytest.raises(InvalidInput) as refused:
        await ssrf.check(url, ssrf.AllowList.parse(""))
    assert refused.value.field == "url"


async def test_the_allow_list_admits_a_self_hosted_receiver():
    assert await ssrf.check("http://127.0.0.1:9/x", ssrf.AllowList.parse("127.0.0.0/8"))
    with pytest.raises(InvalidInput):
        await ssrf.check("http://10.0.0.1/x", ssrf.AllowList.parse("127.0.0.0/8"))


def test_the_documented_verification_snippet_works():
    text = (__import__("pathlib").Path(__file__).resolve().parents[2] / "docs" / "webhooks.md").read_text()
    snippet = text.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(snippet, namespace)  # noqa: S102 - our own documentation, run to prove it stays true
    secret = signing.new_secret()
    assert (
        namespace["handle"](BODY.encode(), signing.headers([secret], "msg_3", BODY), secret)["type"]
        == "job.completed"
    )
