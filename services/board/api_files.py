"""Uploads (images and music for a job) and artifact downloads (streamed, with HTTP range requests)."""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from pathlib import Path
from typing import Annotated

import av
import numpy as np
from fastapi import APIRouter, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from PIL import Image, UnidentifiedImageError

from services.board import queries
from services.board.context import Ctx
from services.board.schemas import ErrorOut, UploadOut
from shared import names
from shared.auth import Caller, Role, requires
from shared.errors import InvalidInput

router = APIRouter(prefix="/api/v1", tags=["files"], dependencies=[requires(Role.OPERATOR)])
UPLOAD_MAX_BYTES = 25 * 1024 * 1024
UPLOAD_MAX_PIXELS = 50_000_000
AUDIO_SECONDS = (3.0, 3600.0)
# containers an audio upload may be in; anything else (a playlist that names URLs, say) is refused
AUDIO_FORMATS = {"mp3", "mov,mp4,m4a,3gp,3g2,mj2", "wav", "ogg", "flac", "matroska,webm", "aac"}
FILE_HINT = "upload a JPEG, PNG or WebP image, or MP3, M4A, WAV, OGG or FLAC audio"


def _inspect_image(path: Path) -> tuple[int, int] | None:
    """The image's size; None when it is not an image at all."""
    try:
        with Image.open(path) as image:
            width, height = image.size
            if width * height > UPLOAD_MAX_PIXELS:
                raise InvalidInput("file", f"image is {width}x{height}; at most {UPLOAD_MAX_PIXELS:,} pixels")
            image.verify()
    except UnidentifiedImageError:
        return None
    except (OSError, SyntaxError, Image.DecompressionBombError) as err:
        raise InvalidInput("file", f"is not a readable image; {FILE_HINT}") from err
    return width, height


def _inspect_audio(path: Path) -> float | None:
    """The audio's length in seconds, decoded whole (so a render never meets a broken file);
    None when it is not audio at all."""
    try:  # local files only: a container must not make FFmpeg open anything else
        container = av.open(str(path), options={"protocol_whitelist": "file"})
    except av.FFmpegError:
        return None
    with container:
        if container.format.name not in AUDIO_FORMATS or not container.streams.audio:
            return None
        seconds, peak = 0.0, 0.0
        as_float = av.AudioResampler(format="flt")  # whatever the sample format, peaks in [-1, 1]
        try:
            for frame in container.decode(audio=0):
                seconds += frame.samples / (frame.sample_rate or 1)
                for floats in as_float.resample(frame):
                    peak = max(peak, float(np.abs(floats.to_ndarray()).max(initial=0)))
                if seconds > AUDIO_SECONDS[1]:
                    raise InvalidInput("file", f"is longer than {AUDIO_SECONDS[1] / 60:.0f} minutes; trim it")
        except av.FFmpegError as err:
            raise InvalidInput(
                "file", f"is audio that cannot be decoded to its end ({err}); {FILE_HINT}"
            ) from err
    if seconds < AUDIO_SECONDS[0]:
        raise InvalidInput(
            "file", f"is {seconds:.1f} s of audio; music needs at least {AUDIO_SECONDS[0]:.0f} s"
        )
    if peak < 1e-4:
        raise InvalidInput("file", "is silent audio; upload music that can be heard")
    return seconds


@router.post(
    "/uploads",
    status_code=201,
    responses={422: {"model": ErrorOut}, 413: {"model": ErrorOut}},
    max_body_size=UPLOAD_MAX_BYTES + 64 * 1024,
)
async def upload(file: UploadFile, ctx: Ctx) -> UploadOut:
    """Upload an image (use its id in a job's `images`) or music (in a job's or an effects preset's
    `music`); at most 25 MB. Audio is checked whole: 3 s to 60 minutes, decodable, not silent."""
    with tempfile.TemporaryDirectory(prefix="vfo-upload-") as tmp:
        path = Path(tmp) / "upload"
        size = 0
        with path.open("wb") as out:
            while chunk := await file.read(1 << 20):
                size += len(chunk)
                if size > UPLOAD_MAX_BYTES:
                    raise InvalidInput("file", f"is larger than {UPLOAD_MAX_BYTES // (1024 * 1024)} MB")
                out.write(chunk)
        upload_id = uuid.uuid4().hex
        name = (file.filename or "upload")[-200:]
        image = await asyncio.to_thread(_inspect_image, path)
        if image is not None:
            await ctx.artifacts.put_file(names.upload_object(upload_id), path)
            return UploadOut(
                id=upload_id, kind="image", filename=name, width=image[0], height=image[1], size_bytes=size
            )
        seconds = await asyncio.to_thread(_inspect_audio, path)
        if seconds is None:
            raise InvalidInput("file", f"is neither a readable image nor audio; {FILE_HINT}")
        await ctx.artifacts.put_file(names.music_object(upload_id), path)
        return UploadOut(
            id=upload_id, kind="audio", filename=name, duration_s=round(seconds, 3), size_bytes=size
        )


@router.get("/uploads/{upload_id}", responses={404: {"model": ErrorOut}})
async def get_upload(
    upload_id: Annotated[str, PathParam(pattern=r"^[0-9a-f]{32}$")], ctx: Ctx
) -> FileResponse:
    """An uploaded image, as the job drawer's Images tab shows it."""
    cached = ctx.cache_dir / f"upload-{upload_id}"
    if not cached.exists():
        await ctx.artifacts.get_file(names.upload_object(upload_id), cached)
    with Image.open(cached) as image:  # checked to be an image when it was uploaded
        media_type = image.get_format_mimetype() or "application/octet-stream"
    return FileResponse(cached, media_type=media_type)


@router.get("/jobs/{job_id}/artifacts/{name}", responses={404: {"model": ErrorOut}})
async def download_artifact(job_id: uuid.UUID, name: str, ctx: Ctx, caller: Caller) -> FileResponse:
    """Stream an artifact; supports `Range`, so a browser can seek in the video.

    Besides a key or a session, a signed link (`?expires=&signature=`, as in webhooks) opens it."""
    row = await queries.get_artifact(ctx.engine, str(job_id), name, caller.scope)
    # The cache path is built from the content hash, never from the user-supplied name.
    cached = ctx.cache_dir / row["sha256"]
    if not cached.exists():
        await ctx.artifacts.get_file(row["object_name"], cached)
    return FileResponse(cached, media_type=row["mime_type"], filename=row["name"])
