"""Whether the DICOM node configured in edgexray.toml listens (for `doctor`): a TCP connection to
its port, no DICOM library needed."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any

from edgexray.config import ConfigError, ConfigPaths, find_configs, load_config

DEFAULT_PORT = 11112
DEFAULT_AE_TITLE = "EDGEXRAY"


@dataclass(frozen=True)
class NodeState:
    """configured: a [dicom-node] table exists. host, port, ae_title: where it should listen.
    listening: a connection to it succeeded. problem: why the configuration could not be read."""

    configured: bool
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    ae_title: str = DEFAULT_AE_TITLE
    listening: bool = False
    problem: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def line(self) -> str:
        if self.problem is not None:
            return f"dicom-node: {self.problem}"
        if not self.configured:
            return "dicom-node: not configured (no [dicom-node] table in edgexray.toml)"
        state = "listening" if self.listening else "NOT listening"
        return f"dicom-node: {self.ae_title} {state} on {self.host}:{self.port}"


def listening(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def node_state(paths: ConfigPaths | None = None) -> NodeState:
    """The configured node's state, from the configuration files the run read (`paths`; None:
    found as every command finds them)."""
    table = None
    # The system file's table first: the node's own settings are the administrator's.
    for path in (paths or find_configs(None)).all():
        try:
            table = load_config(path).sections.get("dicom-node")
        except ConfigError as exc:
            return NodeState(configured=False, problem=str(exc))
        if table is not None:
            break
    if table is None:
        return NodeState(configured=False)
    bind = str(table.get("bind", "0.0.0.0"))
    host = "127.0.0.1" if bind in ("0.0.0.0", "::") else bind
    port = int(table.get("port", DEFAULT_PORT))
    title = str(table.get("ae-title", table.get("ae_title", DEFAULT_AE_TITLE)))
    return NodeState(True, host, port, title, listening(host, port))
