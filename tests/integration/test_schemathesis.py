"""Schemathesis against the board's `/openapi.json` (the one document of the stack's port: the
board's routes, and the registry's, keys' and webhooks' mounted beside them): requests generated
from it, valid ones and invalid ones, never get a 5xx. Bounded: a few examples per operation, a
fixed seed, a time limit; over a real stack (NATS, database, HTTP), with the admin key.

The stack runs in this test's event loop, so Schemathesis (synchronous, over `requests`) runs in a
thread beside it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

from shared.natsserver import EmbeddedNats
from shared.settings import Settings
from tests.conftest import admin_key, stack_settings
from vfo.stack import Stack

EXAMPLES = 10  # per operation and per mode (valid, invalid)
STREAMS = r"/stream$"  # server-sent events do not end: a request would wait for its timeout


@pytest.fixture
def settings_(tmp_path: Path, nats_server: EmbeddedNats, database_url: str) -> Settings:
    # one key sends hundreds of requests here: a budget that does not turn them into 429s
    return stack_settings(tmp_path, nats_server, database_url, rate_limit="100000/minute")


@pytest.fixture
async def board_stack(settings_: Settings) -> AsyncIterator[Stack]:
    # no workers: jobs created here are not run, only the API is under test
    async with Stack(settings_, services=("registry", "board", "webhooks")) as running:
        yield running


def probe(
    operation: schemathesis.APIOperation,
    mode: schemathesis.GenerationMode,
    base_url: str,
    auth: dict[str, str],
    failures: list[str],
) -> None:
    """EXAMPLES requests of one kind to one operation; each 5xx answer is added to `failures`."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,  # the same requests every run
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def send(case: schemathesis.Case) -> None:
        response = case.call(base_url=base_url, headers=auth, timeout=30)
        if response.status_code >= 500:
            failures.append(
                f"{operation.label} ({mode.value}) -> {response.status_code} {response.text[:300]!r}\n"
                f"    {case.as_curl_command()}"
            )

    send()


def fuzz(base_url: str, token: str) -> tuple[list[str], list[str]]:
    """Every operation of the document, EXAMPLES valid and EXAMPLES invalid requests each: the 5xx
    answers seen, and the operations tried."""
    auth = {"Authorization": f"Bearer {token}"}
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", timeout=30).exclude(path_regex=STREAMS)
    failures: list[str] = []
    tried: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        tried.append(operation.label)
        for mode in schemathesis.GenerationMode:
            probe(operation, mode, base_url, auth, failures)
    return failures, tried


@pytest.mark.timeout(110)
async def test_generated_requests_to_the_board_never_get_a_5xx(board_stack: Stack):
    # given the board's API document, and its admin key
    token = admin_key(board_stack)
    started = time.monotonic()
    # when Schemathesis sends valid and invalid requests to every operation
    failures, tried = await asyncio.to_thread(fuzz, board_stack.board_url, token)
    # then it reached every service's routes, and no answer was a 5xx
    print(f"{len(tried)} operations in {time.monotonic() - started:.1f} s")
    for route in (
        "POST /api/v1/jobs",
        "POST /api/v1/uploads",
        "DELETE /api/v1/templates/{slug}",
        "GET /api/v1/registry/{kind}/{slug}/versions/{number}",
        "POST /api/v1/webhooks",
        "POST /api/v1/keys",
    ):
        assert route in tried
    assert "GET /api/v1/jobs/{job_id}/stream" not in tried
    assert failures == [], "\n".join(failures)
