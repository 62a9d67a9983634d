"""One HTTP port for several services (`vfo up`): each mounts its ASGI app under path prefixes.

Apps keep their full paths (nothing is stripped); the longest matching prefix wins and "" is the
default. In production each service listens on its own port and a reverse proxy does this job.
"""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send


class HttpHost:
    def __init__(self) -> None:
        self._mounts: list[tuple[str, ASGIApp]] = []

    def mount(self, app: ASGIApp, *prefixes: str) -> None:
        for prefix in prefixes or ("",):
            self._mounts.append((prefix, app))
        self._mounts.sort(key=lambda mount: len(mount[0]), reverse=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            return
        path = scope.get("path", "")
        for prefix, app in self._mounts:
            if path == prefix or path.startswith(prefix.rstrip("/") + "/") or not prefix:
                await app(scope, receive, send)
                return
        response = JSONResponse({"code": "starting", "message": "the service is starting"}, status_code=503)
        await response(scope, receive, send)
