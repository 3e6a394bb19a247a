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


def require_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    service: ServiceDep,
) -> None:
    """401 unless the request carries the service's token (compared in constant time, so the
    time taken says nothing about how much of a guess was right). No token configured: open."""
    expected = service.settings.token
    if expected is None:
        return
    given = credentials.credentials if credentials is not None else ""
    if not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
        service.metrics.requests.labels("unauthorized").inc()
        raise HTTPException(
            status_code=401,
            detail="missing or wrong bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
