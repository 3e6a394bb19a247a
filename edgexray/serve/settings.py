"""The service's settings: one object, validated on construction, so a running server never meets
a setting it cannot honour."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_MAX_UPLOAD_BYTES = 64 * 1024 * 1024
#: Names a request's Host may always have: this machine's loopback names.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
# A host name (letters, digits, hyphens, dots), optionally `*.` first: one host or its subdomains.
_HOST_NAME = re.compile(r"(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*")


def host_pattern(name: str) -> str:
    """`name` as the Host check compares it: lower case, an IPv6 address in brackets. ValueError
    for anything but a host name (`*.example.org` for its subdomains), an IPv4 or an IPv6 address:
    no scheme, port, path or bare `*`."""
    bare = name.strip().lower()
    try:
        address = ipaddress.ip_address(bare.strip("[]"))
    except ValueError:
        if not _HOST_NAME.fullmatch(bare):
            raise ValueError(
                f"not a host name or address: {name!r} (give a name such as kiosk.local or "
                "*.example.org, an IPv4 or an IPv6 address; no scheme, port or path)"
            ) from None
        return bare
    return f"[{address}]" if address.version == 6 else str(address)


@dataclass(frozen=True)
class ServeSettings:
    """host/port: where to listen. token: the bearer token clients must send; None (no auth) only
    with insecure_no_auth, the one way to run open. max_upload_bytes: the largest request body
    accepted (413 past it). workers: inference threads. queue_size: inferences that may wait for a
    worker; past workers + queue_size, requests get 503. request_timeout: seconds a request may
    wait for its inference (504 past it). audit: the audit log file, if any. allow_hosts: names a
    request's Host header may have besides the loopback names and `host` (allowed_hosts)."""

    host: str = "127.0.0.1"
    port: int = 8080
    token: str | None = field(default=None, repr=False)
    insecure_no_auth: bool = False
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    workers: int = 1
    queue_size: int = 16
    request_timeout: float = 30.0
    audit: Path | None = None
    allow_hosts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        host_pattern(self.host)
        object.__setattr__(self, "allow_hosts", tuple(map(host_pattern, self.allow_hosts)))
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
        if self.token is None and not self.insecure_no_auth:
            raise ValueError("a token is required: give one, or --insecure-no-auth to run open")
        if self.token is not None and self.insecure_no_auth:
            raise ValueError(
                "--insecure-no-auth runs without a token, but one is configured (--token-file "
                "or EDGEXRAY_SERVE_TOKEN): give one or the other"
            )

    @property
    def allowed_hosts(self) -> tuple[str, ...]:
        """Every name a request's Host header may have (port aside): the loopback names, the
        address the server listens on, and allow_hosts. Any other Host (a DNS-rebinding page's
        own name, pointed at this machine) is refused, with or without the token."""
        names = (*LOOPBACK_HOSTS, host_pattern(self.host), *self.allow_hosts)
        return tuple(dict.fromkeys(names))
