"""The CLI's former home of the exit codes, kept so older imports still work: use edgexray.exit_codes."""

from edgexray.exit_codes import (
    FATAL,
    INTERRUPTED,
    OK,
    OUTPUT_CLOSED,
    PARITY,
    PARTIAL,
    USAGE,
)

__all__ = ["FATAL", "INTERRUPTED", "OK", "OUTPUT_CLOSED", "PARITY", "PARTIAL", "USAGE"]
