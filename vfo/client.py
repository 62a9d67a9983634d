"""`vfo make`'s client side: create a job over HTTP, follow it live (SSE), download the result."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from httpx_sse import aconnect_sse
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

STEP_LABELS = {"script": "Script", "tts": "Narration", "render": "Video"}
FINAL = ("DONE", "FAILED", "CANCELLED")


class MakeFailed(Exception):
    """The video could not be made; `invalid_input` when the request itself was refused (HTTP 422)."""

    def __init__(self, message: str, invalid_input: bool = False) -> None:
        super().__init__(message)
        self.invalid_input = invalid_input


def _slug(title: str) -> str:
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:60] or "video"


def _error(response: httpx.Response) -> str:
    try:
        body = response.json()
        return str(body.get("message") or body)
    except ValueError:
        return response.text[:300]


@dataclass(frozen=True)
class Choices:
    """What `vfo make` asks for besides title and brief; unset ones are the recipe's or the board's."""

    language: str = "en-US"
    images: tuple[Path, ...] = ()
    recipe: str | None = None
    voice: str | None = None
    shorts: int | None = None
    music: str | Path | None = None  # a built-in bed, "none", or an audio file to upload


async def _upload(client: httpx.AsyncClient, path: Path, field: str) -> dict[str, Any]:
    with path.open("rb") as handle:
        response = await client.post("/api/v1/uploads", files={"file": (path.name, handle)})
    if response.status_code != 201:
        raise MakeFailed(f"{field}: {path}: {_error(response)}", response.status_code == 422)
    uploaded: dict[str, Any] = response.json()
    return uploaded


async def make_video(
    board_url: str,
    headers: dict[str, str],
    title: str,
    brief: str,
    choices: Choices,
    out_dir: Path,
    console: Console,
) -> Path:
    timeout = httpx.Timeout(30, read=None)
    async with httpx.AsyncClient(base_url=board_url, headers=headers, timeout=timeout) as client:
        uploads = [(await _upload(client, image, "image"))["id"] for image in choices.images]
        body: dict[str, Any] = {
            "title": title,
            "brief": brief,
            "language": choices.language,
            "images": uploads,
            "start": "CONCLUIDO",
        }
        if isinstance(choices.music, Path):
            music = await _upload(client, choices.music, "music")
            if music["kind"] != "audio":
                raise MakeFailed(f"music: {choices.music} is not audio; give an audio file", True)
            body["music"] = music["id"]
        elif choices.music:
            body["music"] = choices.music
        body |= {"recipe": choices.recipe, "voice_preset": choices.voice, "shorts": choices.shorts}
        body = {k: v for k, v in body.items() if v is not None}
        response = await client.post("/api/v1/jobs", json=body)
        if response.status_code != 201:
            raise MakeFailed(_error(response), response.status_code == 422)
        job_id = response.json()["id"]
        console.print(f"[bold]Job[/bold] {job_id}  {board_url}/api/v1/jobs/{job_id}")
        job = await _follow(client, job_id, console)
        if job.get("waiting_review"):
            raise MakeFailed(
                f"the job waits for your review at {job['state']} (its recipe pauses there);"
                f" open {board_url} and move its card on"
            )
        if job["state"] != "DONE":
            raise MakeFailed(
                f"the job ended {job['state']} in step {job.get('failed_step')}: {job.get('last_error')}"
            )
        out_dir.mkdir(parents=True, exist_ok=True)
        stem = f"{_slug(title)}-{job_id[:8]}"
        saved = {}
        for artifact in job["artifacts"]:
            if artifact["step"] == "render":
                name = artifact["name"]  # the video, thumbnail and subtitles by suffix; shorts by name
                main = name in ("video.mp4", "thumbnail.jpg") or name.startswith("subtitles.")
                dest = out_dir / (f"{stem}{Path(name).suffix}" if main else f"{stem}-{name}")
                saved[name] = await _download(client, artifact["url"], dest)
            elif artifact["name"] == "metadata.json":  # title, description and tags, for publishing
                await _download(client, artifact["url"], out_dir / f"{stem}.metadata.json")
        return saved["video.mp4"]


async def _follow(client: httpx.AsyncClient, job_id: str, console: Console) -> dict[str, Any]:
    columns = (
        TextColumn("{task.description:<10}"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}%"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        bars: dict[str, TaskID] = {
            step: progress.add_task(label, total=100) for step, label in STEP_LABELS.items()
        }
        job: dict[str, Any] = {}
        async with aconnect_sse(client, "GET", f"/api/v1/jobs/{job_id}/stream") as source:
            async for message in source.aiter_sse():
                job = message.json()
                for step in job["steps"]:
                    if step["step"] in bars:
                        progress.update(bars[step["step"]], completed=step["percent"])
                if job["state"] in FINAL or job.get("waiting_review"):
                    break
        return job


async def _download(client: httpx.AsyncClient, url: str, dest: Path) -> Path:
    partial = dest.with_suffix(dest.suffix + ".part")
    async with client.stream("GET", url) as response:
        response.raise_for_status()
        with partial.open("wb") as out:
            async for chunk in response.aiter_bytes(1 << 20):
                out.write(chunk)
    partial.replace(dest)
    return dest.resolve()
