"""The model file shipped to Ray workers through the object store, checked again where it lands.

Workers need no shared disk: the driver reads the file (and its JSON sidecar, if the card lives
there) once, checks it (and verifies its signature, under a trust policy), and puts those same
bytes in Ray's object store, never another read of the file; each worker fetches them, checks
their SHA-256 against the driver's, then runs the runtime's own model-file checks (card digest,
payload hash) before any engine loads them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgexray.errors import ModelError
from edgexray.model_identity import ModelIdentity, bytes_sha256
from edgexray.modelfile import ModelFile, check_model_bytes, read_model_file


@dataclass(frozen=True)
class ShippedModel:
    """name: the model file's name (its suffix gives the format). data: an object reference to the
    file's bytes. sha256: their digest, taken on the driver. sidecar: the JSON sidecar's bytes when
    the card is there (small, travels inline), else None. identity: the model's identity as the
    driver made it when it loaded (and verified) these bytes, signer included, which every record
    a worker makes carries; None: each worker's own."""

    name: str
    data: Any  # ray.ObjectRef[bytes]; typed loosely so this module imports without Ray's stubs
    sha256: str
    sidecar: bytes | None = None
    identity: ModelIdentity | None = None

    @classmethod
    def put(cls, path: str | os.PathLike[str]) -> ShippedModel:
        """Read and check the model at `path` (ModelError/CardError as read_model_file, so a bad
        model fails here, once, not on every worker) and put its bytes in the object store.
        Needs a connected Ray (ray.init)."""
        return cls.of(read_model_file(Path(path)))

    @classmethod
    def of(cls, checked: ModelFile, identity: ModelIdentity | None = None) -> ShippedModel:
        """The model file already read and checked (the bytes whose signature the driver
        verified), put in the object store as it is, with the identity the driver made of them.
        Needs a connected Ray (ray.init)."""
        import ray

        digest = bytes_sha256(checked.data)
        if identity is not None and identity.sha256 != digest:
            raise ModelError(f"{checked.path}: the identity given is not these bytes' identity")
        return cls(checked.path.name, ray.put(checked.data), digest, checked.sidecar, identity)

    def load(self) -> ModelFile:
        """On a worker: the bytes from the object store, their SHA-256 checked against the
        driver's, then checked as a model file. ModelError when they differ."""
        import ray

        data = ray.get(self.data)
        if bytes_sha256(data) != self.sha256:
            raise ModelError(
                f"{self.name}: the model bytes this worker received do not match the driver's "
                "SHA-256; refusing to load them"
            )
        return check_model_bytes(Path(self.name), data, self.sidecar)
