"""Uploads (images for a job) and artifact downloads (streamed, with HTTP range requests)."""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from pathlib import Path
from typing import Annotated

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


def _inspect_image(path: Path) -> tuple[int, int]:
    try:
        with Image.open(path) as image:
            width, height = image.size
            if width * height > UPLOAD_MAX_PIXELS:
                raise InvalidInput("file", f"image is {width}x{height}; at most {UPLOAD_MAX_PIXELS:,} pixels")
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as err:
        raise InvalidInput("file", "is not a readable image; upload a JPEG, PNG or WebP") from err
    return width, height


@router.post(
    "/uploads",
    status_code=201,
    responses={422: {"model": ErrorOut}, 413: {"model": ErrorOut}},
    max_body_size=UPLOAD_MAX_BYTES + 64 * 1024,
)
async def upload_image(file: UploadFile, ctx: Ctx) -> UploadOut:
    """Upload one image (at most 25 MB); use the returned id in a job's `images`."""
    with tempfile.TemporaryDirectory(prefix="vfo-upload-") as tmp:
        path = Path(tmp) / "upload"
        size = 0
        with path.open("wb") as out:
            while chunk := await file.read(1 << 20):
                size += len(chunk)
                if size > UPLOAD_MAX_BYTES:
                    raise InvalidInput("file", f"is larger than {UPLOAD_MAX_BYTES // (1024 * 1024)} MB")
                out.write(chunk)
        width, height = await asyncio.to_thread(_inspect_image, path)
        upload_id = uuid.uuid4().hex
        await ctx.artifacts.put_file(names.upload_object(upload_id), path)
    filename = (file.filename or "image")[-200:]
    return UploadOut(id=upload_id, filename=filename, width=width, height=height, size_bytes=size)


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
