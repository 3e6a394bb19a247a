"""The bearer token check, as a dependency of every router that says anything about the model."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from edgexray.serve.service import ServiceDep

# auto_error=False: a missing header is answered by require_token with 401 (HTTPBearer's own
# answer to it is 403), the same answer as a wrong token.
bearer = HTTPBearer(auto_error=False, description="The token made by `edgexray serve --new-token`")


def token_matches(authorization: str | None, expected: str | None) -> bool:
    """True when no token is configured, or the `Authorization: Bearer ...` header value carries
    it (compared in constant time, so the time taken says nothing about how much of a guess was
    right). The one comparison: the dependency below and the upload limit's early answer use it."""
    if expected is None:
        return True
    scheme, _, given = (authorization or "").partition(" ")
    given = given.strip() if scheme.lower() == "bearer" else ""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


UNAUTHORIZED = "missing or wrong bearer token"


async def require_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    service: ServiceDep,
) -> None:
    """401 unless the request carries the service's token (token_matches). No token: open.
    Async (a constant-time comparison does not block), so it runs in the event loop: no thread
    hop per request."""
    header = None if credentials is None else f"{credentials.scheme} {credentials.credentials}"
    if not token_matches(header, service.settings.token):
        service.metrics.requests.labels("unauthorized").inc()
        raise HTTPException(
            status_code=401, detail=UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"}
        )
