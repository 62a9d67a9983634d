"""Board latency: from a change being sent to the card changing in a real browser, 200 jobs on the board.

Each sample edits a job (PATCH -> job_configured appended to JOB_EVENTS -> projector -> server-sent
event -> DOM) and times it from just before the request to the moment the page updated the card.
Writes benchmarks/results/board_latency.json. Usage: python -m benchmarks.board_latency [--jobs 200]
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

from benchmarks.common import machine, save
from shared.natsserver import EmbeddedNats, free_port
from shared.settings import Settings
from tests.browser.conftest import CHROMIUM_FLAGS, chromium_path
from vfo.stack import Stack


async def main(jobs: int, samples: int) -> None:
    with tempfile.TemporaryDirectory(prefix="vfo-bench-") as tmp:
        nats = EmbeddedNats(Path(tmp) / "nats").start()
        settings = Settings(NATS_URL=nats.url, data_dir=Path(tmp) / "data", port=free_port())
        async with (
            Stack(settings) as stack,
            httpx.AsyncClient(base_url=stack.board_url, timeout=30) as client,
        ):
            ids = []
            for n in range(jobs):
                body = {"title": f"Job {n}", "brief": "One idea. Another.", "auto_video": False}
                ids.append((await client.post("/api/v1/jobs", json=body)).json()["id"])
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(
                    executable_path=chromium_path(), args=CHROMIUM_FLAGS
                )
                page = await browser.new_page(viewport={"width": 1280, "height": 800})
                await page.goto(stack.board_url)
                await page.wait_for_selector(".connection.live")
                await page.wait_for_function(f"document.querySelectorAll('.card').length === {jobs}")
                latencies = []
                for n in range(samples):
                    job_id, title = ids[n % len(ids)], f"Edited {n}"
                    sent = time.time() * 1000
                    await client.patch(f"/api/v1/jobs/{job_id}", json={"title": title})
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
    for key, value in result.items():
        print(f"{key:>24}: {value}")
    print("saved", save("board_latency", result))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.jobs, args.samples))
