"""The service's settings: one object, validated on construction, so a running server never meets
a setting it cannot honour."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_MAX_UPLOAD_BYTES = 64 * 1024 * 1024


def is_loopback(host: str) -> bool:
    """True when `host` is reachable only from this machine (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


@dataclass(frozen=True)
class ServeSettings:
    """host/port: where to listen. token: the bearer token clients must send (None: no auth, only
    allowed on a loopback address or with insecure_no_auth). max_upload_bytes: the largest request
    body accepted (413 past it). workers: inference threads. queue_size: inferences that may wait
    for a worker; past workers + queue_size, requests get 503. request_timeout: seconds a request
    may wait for its inference (504 past it). audit: the audit log file, if any."""

    host: str = "127.0.0.1"
    port: int = 8080
    token: str | None = field(default=None, repr=False)
    insecure_no_auth: bool = False
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    workers: int = 1
    queue_size: int = 16
    request_timeout: float = 30.0
    audit: Path | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be 0..65535, got {self.port}")
        if self.max_upload_bytes < 1:
            raise ValueError(f"max upload size must be positive, got {self.max_upload_bytes}")
        if self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers}")
        if self.queue_size < 0:
            raise ValueError(f"queue size must not be negative, got {self.queue_size}")
        if not self.request_timeout > 0:
            raise ValueError(f"request timeout must be positive, got {self.request_timeout}")
        if self.token is not None and not self.token.strip():
            raise ValueError("the token is empty")
        if self.token is None and not self.insecure_no_auth and not is_loopback(self.host):
            raise ValueError(
                f"refusing to listen on {self.host} without a token: give --token-file (or "
                "EDGEXRAY_SERVE_TOKEN), or --insecure-no-auth if the network is trusted"
            )
