"""One HTTP port for several services (`vfo up`): each mounts its ASGI app under path prefixes.

Apps keep their full paths (nothing is stripped); the longest matching prefix wins and "" is the
default. `/openapi.json` is the union of every mounted API's document, so `/docs` shows them all.
In production each service listens on its own port and a reverse proxy does this job.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send


def _fastapi(app: ASGIApp) -> FastAPI | None:
    """The FastAPI app behind a mount (middleware such as JsonTooLarge keeps it as `.app`)."""
    while not isinstance(app, FastAPI):
        inner = getattr(app, "app", None)
        if inner is None:
            return None
        app = inner
    return app


def merge_openapi(apps: list[FastAPI]) -> dict[str, Any]:
    """The first app's document, with every other app's paths, schemas and security schemes."""
    merged: dict[str, Any] = {}
    for app in apps:
        spec = app.openapi()
        if not merged:
            merged = {k: (dict(v) if isinstance(v, dict) else v) for k, v in spec.items()}
            merged.setdefault("paths", {})
            merged["components"] = {k: dict(v) for k, v in spec.get("components", {}).items()}
            continue
        merged["paths"].update(spec.get("paths", {}))
        for section, entries in spec.get("components", {}).items():
            merged["components"].setdefault(section, {}).update(entries)
    return merged


class HttpHost:
    def __init__(self) -> None:
        self._mounts: list[tuple[str, ASGIApp]] = []

    def mount(self, app: ASGIApp, *prefixes: str) -> None:
        for prefix in prefixes or ("",):
            self._mounts.append((prefix, app))
        self._mounts.sort(key=lambda mount: len(mount[0]), reverse=True)

    def apps(self) -> list[FastAPI]:
        """The FastAPI apps mounted, each once, the default app (prefix "") first."""
        apps: list[FastAPI] = []
        for _, mounted in sorted(self._mounts, key=lambda mount: len(mount[0])):
            app = _fastapi(mounted)
            if app is not None and app not in apps:
                apps.append(app)
        return apps

    def openapi(self) -> dict[str, Any]:
        return merge_openapi(self.apps())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            return
        path = scope.get("path", "")
        if path == "/openapi.json" and self._mounts:
            await JSONResponse(self.openapi())(scope, receive, send)
            return
        for prefix, app in self._mounts:
            if path == prefix or path.startswith(prefix.rstrip("/") + "/") or not prefix:
                await app(scope, receive, send)
                return
        response = JSONResponse({"code": "starting", "message": "the service is starting"}, status_code=503)
        await response(scope, receive, send)
