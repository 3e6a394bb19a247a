"""Model cards inside model files: embed, read back, check integrity; the JSON sidecar beside them."""

from edgexray.modelfile.store import (
    SUPPORTED_SUFFIXES,
    read_card,
    read_embedded_card,
    sidecar_path,
    verify_payload,
    write_card,
)

__all__ = [
    "SUPPORTED_SUFFIXES",
    "read_card",
    "read_embedded_card",
    "sidecar_path",
    "verify_payload",
    "write_card",
]
