"""The registry's FastAPI application: the API and the admin pages (`/admin`)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from services.registry import api, api_keys
from services.registry.registry import Registry
from shared import httpapi
from shared.auth import Access

STATIC = Path(__file__).parent / "static"
PREFIXES = ("/api/v1/registry", "/api/v1/keys", "/admin")


def create_app(registry: Registry, access: Access) -> FastAPI:
    app = FastAPI(title="Video Factory registry", version="0.1.0", max_body_size=2 * 1024 * 1024)
    app.state.registry = registry
    app.state.access = access
    httpapi.install(app)
    app.include_router(api.router)
    app.include_router(api_keys.router)
    app.mount("/admin/static", StaticFiles(directory=STATIC), name="admin-static")

    @app.get("/admin", include_in_schema=False)
    async def admin_page() -> FileResponse:
        return FileResponse(STATIC / "admin.html", headers={"Cache-Control": "no-cache"})

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
