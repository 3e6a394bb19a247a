"""What a request must pass before the app reads it, as ASGI middleware: its Origin, then its size.
(Its Host is checked before both, by Starlette's TrustedHostMiddleware; see app.py.)

**Origin.** A request that carries an `Origin` header other than the service's own (the scheme,
host and port the request was sent to, by its `Host` header, which the host check already
allowed) is answered 403 whatever its method, path or token. A multipart POST is a CORS "simple
request": without this, any page open in the kiosk's browser could post to /v1/classify, and a
page that knows the token (or a service run with --insecure-no-auth) could be driven by another
site. Clients that are not browsers send no Origin and are not affected.

**Size.** A request announcing more than the limit (Content-Length) is answered 413 before one
byte of its body is read (401 when it does not carry the service's token: authentication comes
first, so a stranger learns nothing about the limit and costs no more than one who asks politely);
a request without a length (chunked) is stopped with 413 as soon as the bytes received pass the
limit. Nothing past the limit is ever held in memory. (Multipart file parts are spooled to disk
past 1 MB by the form parser, so within the limit memory stays small too.)
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from edgexray.serve.auth import UNAUTHORIZED, token_matches
from edgexray.serve.error_responses import error_response

DEFAULT_PORTS = {"http": 80, "https": 443}


def same_origin(origin: str, host: str | None) -> bool:
    """True when `origin` (an Origin header: scheme://host[:port]) names the host and port of the
    `host` header, default ports filled in from the origin's scheme. `null`, a malformed origin
    or a missing Host are never the same origin."""
    parts = urlsplit(origin)
    default = DEFAULT_PORTS.get(parts.scheme)
    if default is None or host is None or origin != f"{parts.scheme}://{parts.netloc}":
        return False
    if "@" in parts.netloc or not parts.hostname:
        return False
    target = urlsplit(f"//{host}")
    try:
        origin_port, host_port = parts.port or default, target.port or default
    except ValueError:  # a port that is not a number
        return False
    return (parts.hostname, origin_port) == (target.hostname, host_port)


class OriginCheck:
    """403 for a request whose Origin header is not the service's own (same_origin)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = Headers(scope=scope)
            origin = headers.get("origin")
            if origin is not None and not same_origin(origin, headers.get("host")):
                shown = origin if len(origin) <= 100 else origin[:100] + "..."
                refusal = error_response(403, f"cross-origin request refused (Origin: {shown})")
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _too_large_message(limit: int) -> str:
    return f"upload larger than the server's limit of {limit / 2**20:.3g} MiB"


class UploadTooLarge(HTTPException):
    """Raised from `receive` while a handler reads the body. An HTTPException, so FastAPI's form
    parsing passes it on unchanged and the app's error handler answers it (as JSON)."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=_too_large_message(limit))


class Unauthorized(HTTPException):
    """An over-the-limit body without the token: 401 (FastAPI reads a form before it runs the
    token dependency, so the limit is where authentication must come first)."""

    def __init__(self) -> None:
        super().__init__(401, detail=UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"})


class UploadLimit:
    def __init__(self, app: ASGIApp, max_bytes: int, token: str | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        authorized = token_matches(headers.get("authorization"), self.token)
        announced = headers.get("content-length")
        if announced is not None and announced.isdigit() and int(announced) > self.max_bytes:
            await self._refuse(send, authorized)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise UploadTooLarge(self.max_bytes) if authorized else Unauthorized()
            return message

        await self.app(scope, limited_receive, send)

    async def _refuse(self, send: Send, authorized: bool) -> None:
        error = _too_large_message(self.max_bytes) if authorized else UNAUTHORIZED
        body = json.dumps({"error": error}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            # The unread body cannot be skipped on this connection: end it.
            (b"connection", b"close"),
        ]
        if not authorized:
            headers.append((b"www-authenticate", b"Bearer"))
        await send(
            {
                "type": "http.response.start",
                "status": 413 if authorized else 401,
                "headers": headers,
            }
        )
        await send({"type": "http.response.body", "body": body})
