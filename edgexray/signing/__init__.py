"""Signed models: a device runs only what its owner approved.

Ed25519 signatures (from `cryptography`, the `[sign]` extra, imported only when a key is used) over
the model's name, a version, the export gate's verdict, the model bytes' SHA-256 and the card's
digest, stored in the model file's container (entry `signature`) and in a `.sig` sidecar.
`sign_model` signs on the workstation; `TrustPolicy` checks on the device, with its `TrustRules`
(minimum versions, allowed digests, degraded variants, card overrides).
"""

from edgexray.signing.rules import TrustPolicyError, TrustRules
from edgexray.signing.statement import (
    SIDECAR_SUFFIX,
    SIGNATURE_ENTRY,
    Signature,
    signature_sidecar,
)
from edgexray.signing.verify import (
    ENV_TRUSTED_KEYS,
    Signer,
    TrustPolicy,
    describe_signature,
    verify_model,
)

__all__ = [
    "ENV_TRUSTED_KEYS",
    "SIDECAR_SUFFIX",
    "SIGNATURE_ENTRY",
    "Signature",
    "Signer",
    "TrustPolicy",
    "TrustPolicyError",
    "TrustRules",
    "describe_signature",
    "signature_sidecar",
    "verify_model",
]
