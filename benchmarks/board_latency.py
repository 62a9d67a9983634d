"""Board latency: from a change being sent to the card changing in a real browser, 200 jobs on the board.

Each sample edits a job (PATCH -> job_configured appended to JOB_EVENTS -> projector -> server-sent
event -> DOM) and times it from just before the request to the moment the page updated the card.
Writes benchmarks/results/board_latency.json. The API and the page use the admin key the stack's first
start writes to <data-dir>/admin-key. Usage:
python -m benchmarks.board_latency [--jobs 200] [--samples 200] [--no-save]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from playwright.async_api import async_playwright

from benchmarks.common import RESULTS, machine, save
from shared.auth import ADMIN_KEY_FILE
from shared.natsserver import EmbeddedNats, free_port
from shared.settings import Settings
from tests.browser.conftest import CHROMIUM_FLAGS, chromium_path
from vfo.stack import Stack


async def main(jobs: int, samples: int, results: Path | None = RESULTS) -> dict[str, object]:
    """Measure, print and return the figures; save them to `<results>/board_latency.json` unless
    `results` is None."""
    with tempfile.TemporaryDirectory(prefix="vfo-bench-") as tmp:
        nats = EmbeddedNats(Path(tmp) / "nats").start()
        settings = Settings(NATS_URL=nats.url, data_dir=Path(tmp) / "data", port=free_port())
        async with Stack(settings) as stack:
            key = (settings.data_dir / ADMIN_KEY_FILE).read_text().strip()
            headers = {"Authorization": f"Bearer {key}"}
            async with httpx.AsyncClient(base_url=stack.board_url, headers=headers, timeout=30) as client:
                latencies = await _measure(stack.board_url, key, client, jobs, samples)
        nats.stop()
    latencies.sort()
    result = {
        "what": "edit sent -> event appended -> projected -> SSE -> card updated in Chromium",
        "jobs_on_board": jobs,
        "samples": samples,
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(latencies[max(0, int(len(latencies) * 0.99) - 1)], 1),
        "max_ms": round(latencies[-1], 1),
        "seed_polling_interval_ms": 1000,
        "machine": machine(),
    }
    for name, value in result.items():
        print(f"{name:>24}: {value}")
    if results is not None:
        print("saved", save("board_latency", result, results))
    return result


async def _measure(
    board_url: str, key: str, client: httpx.AsyncClient, jobs: int, samples: int
) -> list[float]:
    """Put `jobs` jobs on the board, open it in Chromium (logged in with `key`) and time `samples`
    edits: milliseconds from just before each PATCH to the card showing the new title."""
    ids = []
    for n in range(jobs):
        body = {"title": f"Job {n}", "brief": "One idea. Another.", "auto_video": False}
        created = await client.post("/api/v1/jobs", json=body)
        created.raise_for_status()
        ids.append(created.json()["id"])
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        page = await browser.new_page(viewport={"width": 1280, "height": 800})
        # log in the way `vfo up` says: its link carries the key in the fragment
        await page.goto(f"{board_url}/login#key={key}")
        await page.wait_for_selector(".connection.live")
        await page.wait_for_function(f"document.querySelectorAll('.card').length === {jobs}")
        latencies = []
        for n in range(samples):
            job_id, title = ids[n % len(ids)], f"Edited {n}"
            sent = time.time() * 1000
            (await client.patch(f"/api/v1/jobs/{job_id}", json={"title": title})).raise_for_status()
            seen = await page.wait_for_function(
                """([id, title]) => {
                    const u = window.vfo.board.updates.findLast((x) => x.id === id);
                    const card = window.vfo.board.cards.get(id);
                    return u && card && card.title === title ? u.at : null;
                }""",
                arg=[job_id, title],
                polling=5,
            )
            latencies.append(await seen.json_value() - sent)
        await browser.close()
    return latencies


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--no-save", action="store_true", help="print the figures, write no results file")
    args = parser.parse_args()
    asyncio.run(main(args.jobs, args.samples, None if args.no_save else RESULTS))
