"""Uploads (images and music for a job) and artifact downloads (streamed, with HTTP range requests)."""

from __future__ import annotations

import asyncio
import re
import tempfile
import uuid
from pathlib import Path
from typing import Annotated, Any

import av
import numpy as np
from fastapi import APIRouter, Form, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from PIL import Image, UnidentifiedImageError

from services.board import queries, uploads
from services.board.context import BoardContext, Ctx
from services.board.schemas import ErrorOut, UploadOut
from shared import names
from shared.auth import EVERY_PROJECT, PROJECT_PATTERN, Caller, Role, requires
from shared.config import Project, config_key
from shared.errors import InvalidInput, NotFound
from shared.media import open_local

router = APIRouter(prefix="/api/v1", tags=["files"], dependencies=[requires(Role.OPERATOR)])
UPLOAD_MAX_BYTES = 25 * 1024 * 1024
UPLOAD_MAX_PIXELS = 50_000_000
AUDIO_SECONDS = (3.0, 3600.0)
# containers an audio upload may be in; anything else (a playlist that names URLs, say) is refused
AUDIO_FORMATS = {"mp3", "mov,mp4,m4a,3gp,3g2,mj2", "wav", "ogg", "flac", "matroska,webm", "aac"}
VIDEO_FORMATS = {"mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm"}
CLIP_SECONDS = (1.0, 600.0)
# artifact names are file names: no control characters (PostgreSQL cannot even compare a NUL byte)
ARTIFACT_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,255}")
OWNER_FIELD = Form(
    pattern=rf"{PROJECT_PATTERN}|^\*$",
    description="keys of every project only: the project it belongs to (unset or `*`: every project)",
)
FILE_HINT = "upload a JPEG, PNG or WebP image, an MP4, MOV or WebM clip, or MP3, M4A, WAV, OGG or FLAC audio"


def _inspect_image(path: Path) -> dict[str, Any] | None:
    """An image's `UploadOut` fields; None when it is not an image at all."""
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
    return {"kind": "image", "width": width, "height": height}


def _inspect_media(path: Path) -> dict[str, Any] | None:
    """A clip's `UploadOut` fields (its pictures matter, not its sound), or audio's; None when the
    file is neither."""
    try:
        container = open_local(path)
    except av.FFmpegError:
        return None
    with container:
        moving = [  # an MP3's cover art is a picture, not a clip
            s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic
        ]
        if moving and container.format.name in VIDEO_FORMATS:
            seconds, (width, height) = _inspect_clip(container, moving[0])
            return {"kind": "video", "width": width, "height": height, "duration_s": round(seconds, 3)}
        if container.format.name not in AUDIO_FORMATS or not container.streams.audio:
            return None
        return {"kind": "audio", "duration_s": round(_inspect_audio(container), 3)}


def _inspect_clip(
    container: av.container.InputContainer, stream: av.VideoStream
) -> tuple[float, tuple[int, int]]:
    """A clip's length and size; its first pictures are decoded, so that a render can show it."""
    if stream.duration and stream.time_base:
        seconds = float(stream.duration * stream.time_base)
    else:
        seconds = (container.duration or 0) / 1e6
    low, high = CLIP_SECONDS
    if not low <= seconds <= high:
        raise InvalidInput(
            "file",
            f"is a {seconds:.1f} s clip; a background clip lasts {low:.0f} s to {high / 60:.0f} minutes",
        )
    width, height = stream.codec_context.width, stream.codec_context.height
    if width * height > UPLOAD_MAX_PIXELS or min(width, height) < 16:
        raise InvalidInput("file", f"is a {width}x{height} clip; use one between 16x16 and 8K")
    try:
        pictures = sum(1 for _, _ in zip(range(3), container.decode(stream), strict=False))
    except av.FFmpegError as err:
        raise InvalidInput("file", f"is a clip that cannot be decoded ({err}); {FILE_HINT}") from err
    if not pictures:
        raise InvalidInput("file", "is a clip without pictures; upload another one")
    return seconds, (width, height)


def _inspect_audio(container: av.container.InputContainer) -> float:
    """The audio's length in seconds, decoded whole (so that a render never meets a broken file)."""
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
async def upload(
    file: UploadFile, ctx: Ctx, caller: Caller, project: Annotated[str | None, OWNER_FIELD] = None
) -> UploadOut:
    """Upload an image or a clip (use its id in a job's `images`) or music (in a job's or an effects
    preset's `music`); at most 25 MB. Audio is checked whole: 3 s to 60 minutes, decodable, not
    silent; a clip lasts 1 s to 10 minutes and its first pictures decode.

    An upload belongs to the key's project: other projects can neither see nor use it. A key of
    every project names the project (`project`), or leaves it out to share the upload with all."""
    owner = await _belongs_to(ctx, caller, project)
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
        found = await asyncio.to_thread(_inspect_image, path) or await asyncio.to_thread(_inspect_media, path)
        if found is None:
            raise InvalidInput("file", f"is neither a readable image, clip nor audio; {FILE_HINT}")
        # backgrounds (images, clips) and music are kept apart: neither can stand in for the other
        where = names.music_object if found["kind"] == "audio" else names.upload_object
        await uploads.put(ctx, where(upload_id), path, owner)
    return UploadOut(id=upload_id, project=owner, filename=name, size_bytes=size, **found)


async def _belongs_to(ctx: BoardContext, caller: Caller, asked: str | None) -> str:
    """The project a new upload belongs to (`*`: every project's)."""
    if caller.everywhere and asked in (None, EVERY_PROJECT):
        return EVERY_PROJECT
    project = caller.project_for(asked)
    if caller.everywhere and await ctx.config.get(config_key("project", project), Project) is None:
        raise InvalidInput(
            "project", f"there is no project {project!r}; create it in Configuration → projects"
        )
    return project


@router.get("/uploads/{upload_id}", responses={404: {"model": ErrorOut}})
async def get_upload(
    upload_id: Annotated[str, PathParam(pattern=r"^[0-9a-f]{32}$")], ctx: Ctx, caller: Caller
) -> FileResponse:
    """An uploaded image or clip, as the job drawer's Images tab shows it (of the caller's project)."""
    if not await uploads.visible(ctx, names.upload_object(upload_id), upload_id, caller.scope):
        raise NotFound(f"no upload with id {upload_id}")
    cached = ctx.cache_dir / f"upload-{upload_id}"
    if not cached.exists():
        await ctx.artifacts.get_file(names.upload_object(upload_id), cached)
    try:
        with Image.open(cached) as image:  # checked to be an image or a clip when it was uploaded
            media_type = image.get_format_mimetype() or "application/octet-stream"
    except UnidentifiedImageError:
        media_type = await asyncio.to_thread(_clip_type, cached)
    return FileResponse(cached, media_type=media_type)


def _clip_type(path: Path) -> str:
    with open_local(path) as container:
        return "video/webm" if container.format.name.startswith("matroska") else "video/mp4"


@router.get("/jobs/{job_id}/artifacts/{name}", responses={404: {"model": ErrorOut}})
async def download_artifact(job_id: uuid.UUID, name: str, ctx: Ctx, caller: Caller) -> FileResponse:
    """Stream an artifact; supports `Range`, so a browser can seek in the video.

    Besides a key or a session, a signed link (`?expires=&signature=`, as in webhooks) opens it."""
    if not ARTIFACT_NAME.fullmatch(name):  # no artifact has such a name
        await queries.check_job(ctx.engine, str(job_id), caller.scope)
        raise NotFound(f"job {job_id} has no artifact named {name!r}")
    row = await queries.get_artifact(ctx.engine, str(job_id), name, caller.scope)
    # The cache path is built from the content hash, never from the user-supplied name.
    cached = ctx.cache_dir / row["sha256"]
    if not cached.exists():
        await ctx.artifacts.get_file(row["object_name"], cached)
    return FileResponse(cached, media_type=row["mime_type"], filename=row["name"])
