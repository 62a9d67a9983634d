"""The board's FastAPI application (also the one port of the all-in-one `vfo up`)."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.board import api_admin, api_board, api_files, api_jobs, api_session
from services.board.context import BoardContext
from shared import httpapi, metrics
from shared.auth import Access, Caller

JSON_BODY_MAX = 1024 * 1024
STATIC = Path(__file__).parent / "static"


def create_app(context: BoardContext, access: Access) -> FastAPI:
    app = FastAPI(
        title="Video Factory",
        version="0.1.0",
        description="Title + brief in, narrated video out. Every job is a stream of events.",
        max_body_size=JSON_BODY_MAX,
    )
    app.state.board = context
    app.state.access = access
    httpapi.install(app)
    app.include_router(api_session.router)
    app.include_router(api_jobs.router)
    app.include_router(api_board.router)
    app.include_router(api_files.router)
    app.include_router(api_admin.router)

    @app.middleware("http")
    async def _count(request: Request, call_next):  # type: ignore[no-untyped-def]
        started = time.monotonic()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        metrics.HTTP_REQUESTS.labels(request.method, path, str(response.status_code)).inc()
        response.headers["Server-Timing"] = f"app;dur={(time.monotonic() - started) * 1000:.1f}"
        return response

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    async def board_page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/login", include_in_schema=False)
    async def login_page() -> FileResponse:
        return FileResponse(STATIC / "login.html", headers={"Cache-Control": "no-cache"})

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        if not context.ready.is_set() or context.store.bus.nc.is_closed:
            return JSONResponse({"status": "starting"}, status_code=503)
        return JSONResponse({"status": "ok", "projection_position": context.hub.position})

    @app.post("/api/v1/admin/projection/rebuild", tags=["admin"])
    async def rebuild_projection(request: Request, caller: Caller) -> JSONResponse:
        """Drop the board tables and replay every event from sequence 1 (admins of every project)."""
        caller.require_every_project("rebuilding the board")
        position = await request.app.state.rebuild()
        return JSONResponse({"status": "rebuilt", "position": position})

    @app.get("/metrics", include_in_schema=False)
    async def prometheus() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
