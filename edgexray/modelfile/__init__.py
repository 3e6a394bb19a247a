"""Model cards inside model files: embed, read back, check integrity; the JSON sidecar beside them.

The container. A model file is the model bytes (the payload) plus an edgexray container of named
UTF-8 text entries (JSON by convention):

- TFLite: a zip archive appended to the flatbuffer, one member `edgexray_<name>.json` per entry,
  archive comment `edgexray-container/1` (tflite_format.py);
- ONNX: one `metadata_props` entry per entry, key `edgexray.<name>` (onnx_format.py).

The card is the entry `card`. Other entries (e.g. a signature over the payload and the card) travel
beside it: `write_card(path, card, entries={"signature": text})` writes both, `write_entries` writes
a given set, and `read_model_file(path).entries` returns them all. Rewriting the card drops the other
entries unless they are given again (a signature over the old card would no longer hold).

Checks on read (`read_model_file`, `read_card`):

- a file whose container is cut or damaged is refused (DamagedCardError), never taken for a plain
  model without a card;
- the card carries `card_sha256`, the digest of its own fields (ModelCard.digest), checked when it is
  parsed, embedded or sidecar; cards from edgexray 0.1 have none and load as legacy;
- the card's `payload_sha256`/`payload_size` are checked against the model bytes.

`ModelFile.data` is the whole file as read once; engines are given these bytes, so the bytes that
were checked are the bytes that run.
"""

from edgexray.modelfile.container import CARD_ENTRY
from edgexray.modelfile.store import (
    SUPPORTED_SUFFIXES,
    ModelFile,
    read_card,
    read_embedded_card,
    read_model_file,
    reseal_card,
    sidecar_path,
    verify_payload,
    write_card,
    write_entries,
)

__all__ = [
    "CARD_ENTRY",
    "SUPPORTED_SUFFIXES",
    "ModelFile",
    "read_card",
    "read_embedded_card",
    "read_model_file",
    "reseal_card",
    "sidecar_path",
    "verify_payload",
    "write_card",
    "write_entries",
]
