"""Request-size limit as a plain ASGI middleware.

Starlette's ``@app.middleware("http")`` (``BaseHTTPMiddleware``) pipes every response body
through an extra task and memory stream, a cost on each streamed feature page; this checks
the declared ``Content-Length`` and otherwise passes the ASGI messages straight through.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from pgspatial.service.errors import problem

__all__ = ["BodySizeLimit"]


class BodySizeLimit:
    """Answer 413 (problem+json) to a request declaring more than ``limit`` body bytes."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            length = dict(scope["headers"]).get(b"content-length")
            if length is not None and (not length.isdigit() or int(length) > self.limit):
                response = problem(
                    413,
                    "Request body too large",
                    f"The body is larger than {self.limit:,} bytes; send a smaller geometry "
                    "or split it.",
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
