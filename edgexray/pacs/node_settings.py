"""The DICOM node's settings (`edgexray dicom-node`, the [dicom-node] table of edgexray.toml),
checked when made: ValueError with one line naming the setting."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path

from edgexray.pacs.settings import ResultSettings

# PS3.5: an AE title is 1 to 16 characters of the default repertoire, no backslash, not all spaces.
_AE_TITLE = re.compile(r"^[\x20-\x5b\x5d-\x7e]{1,16}$")
_DESTINATION = re.compile(
    r"^(?P<ae>[^@]{1,16})@(?P<host>[^@:\s]+|\[[0-9a-fA-F:]+\]):(?P<port>\d+)$"
)
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def check_ae_title(title: str, what: str = "AE title") -> str:
    if not _AE_TITLE.match(title) or not title.strip():
        raise ValueError(f"{what} {title!r}: 1 to 16 printable characters, no backslash")
    return title.strip()


def _check_port(port: int, what: str) -> int:
    if not 0 <= port <= 65535:
        raise ValueError(f"{what} {port}: expected 0 to 65535")
    return port


@dataclass(frozen=True)
class Destination:
    """Where the results go: the PACS's AE title, host and port (`AE@HOST:PORT`)."""

    ae_title: str
    host: str
    port: int

    def __post_init__(self) -> None:
        check_ae_title(self.ae_title, "PACS AE title")
        _check_port(self.port, "PACS port")
        if not self.host:
            raise ValueError("the PACS needs a host")

    @classmethod
    def parse(cls, text: str) -> Destination:
        match = _DESTINATION.match(text.strip())
        if match is None:
            raise ValueError(f"{text!r}: expected AE@HOST:PORT, e.g. ORTHANC@pacs.local:4242")
        return cls(match["ae"], match["host"].strip("[]"), int(match["port"]))

    def __str__(self) -> str:
        return f"{self.ae_title}@{self.host}:{self.port}"


def parse_networks(values: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    """Addresses or networks (`10.0.0.5`, `10.0.4.0/24`, `::1`); ValueError naming a bad one."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ValueError(
                f"{value!r}: not an IP address or network (e.g. 10.0.4.0/24)"
            ) from None
    return tuple(networks)


@dataclass(frozen=True)
class TlsSettings:
    """cert and key: the node's certificate chain and private key (PEM). ca: when given, callers
    must present a certificate signed by it (mutual TLS)."""

    cert: Path
    key: Path
    ca: Path | None = None

    def __post_init__(self) -> None:
        for path in (self.cert, self.key, *([] if self.ca is None else [self.ca])):
            if not Path(path).is_file():
                raise ValueError(f"TLS file {path} not found")


@dataclass(frozen=True)
class NodeSettings:
    """ae_title, port, bind: what the node listens as and on. state: the folder of its spool
    (objects received, not yet decided), outbox (results not yet sent) and journals.
    destination: the PACS results are sent to. allowed_aes / allowed_networks: calling AE titles and source
    addresses accepted (empty: any). max_associations: associations at once. max_object_bytes:
    larger objects are refused (status A700). retry_s / retry_max_s: the first wait after a failed
    send and the longest (the wait doubles). results: what the SR says (and whether an overlay
    is made)."""

    ae_title: str
    port: int
    state: Path
    destination: Destination
    bind: str = "0.0.0.0"
    allowed_aes: tuple[str, ...] = ()
    allowed_networks: tuple[IPNetwork, ...] = ()
    max_associations: int = 4
    max_object_bytes: int = 256 * 1024 * 1024
    tls: TlsSettings | None = None
    retry_s: float = 2.0
    retry_max_s: float = 60.0
    results: ResultSettings = field(default_factory=ResultSettings)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ae_title", check_ae_title(self.ae_title))
        _check_port(self.port, "port")
        object.__setattr__(
            self,
            "allowed_aes",
            tuple(check_ae_title(t, "calling AE title") for t in self.allowed_aes),
        )
        if self.max_associations < 1:
            raise ValueError(f"max associations {self.max_associations}: at least 1")
        if self.max_object_bytes < 1024:
            raise ValueError(f"max object size {self.max_object_bytes} bytes: at least 1024")
        if not 0 < self.retry_s <= self.retry_max_s:
            raise ValueError(
                f"retry {self.retry_s} s / longest {self.retry_max_s} s: 0 < retry <= longest"
            )
        try:
            ipaddress.ip_address(self.bind)
        except ValueError:
            raise ValueError(f"bind address {self.bind!r}: not an IP address") from None

    def address_allowed(self, address: str) -> bool:
        """Whether a caller from `address` may associate (any, without an address allow-list)."""
        if not self.allowed_networks:
            return True
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.allowed_networks)
