"""Look inside a saved Keras model without loading it, for anything that could run code on load.

Loading is where the danger is: a Lambda layer's function is unpickled and called while the model is
rebuilt (Keras before 3.11.3 did so for `.h5` files even in safe mode, CVE-2025-9905), a custom
layer needs code from somewhere, and a SavedModel graph can hold ops that read or write files or
call back into Python. So the saved description is read as data first: the JSON config of a
`.keras` archive (config.json) or of an `.h5` file (the `model_config` HDF5 attribute), and for a
SavedModel folder the ops of saved_model.pb and the layer metadata of keras_metadata.pb.

`unsafe_content(path)` lists what was found, one short phrase each; an empty list means every layer
is built into Keras and nothing else can run.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from edgexray_export.errors import ExportError

# Model containers a config may nest; every other class name must be a layer built into Keras.
_CONTAINERS = frozenset({"Functional", "Sequential", "Model"})
# SavedModel ops that touch the file system or call Python: never part of an image classifier.
UNSAFE_OPS = frozenset(
    {
        "WriteFile",
        "ReadFile",
        "MatchingFiles",
        "DeleteFile",
        "PyFunc",
        "PyFuncStateless",
        "EagerPyFunc",
        "ImmutableConst",
        "CreateSummaryFileWriter",
        "WriteScalarSummary",
        "WriteSummary",
    }
)


def _is_keras_module(module: object) -> bool:
    return module is None or module == "keras" or str(module).startswith("keras.")


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every dict in a JSON tree that names a class (a layer, an initializer, a function...)."""
    if isinstance(node, dict):
        if "class_name" in node:
            yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _layer_entries(config: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The model itself and every layer, at any nesting depth."""
    yield config
    for layer in (config.get("config") or {}).get("layers") or []:
        if isinstance(layer, dict):
            yield from _layer_entries(layer)


def _builtin_layer(class_name: str) -> bool:
    import keras

    found = getattr(keras.layers, class_name, None)
    return isinstance(found, type) and issubclass(found, keras.layers.Layer)


def _builtin_operation(module: object, class_name: str) -> bool:
    """A Keras op recorded in a functional graph (what `x / 127.5` or keras.applications'
    preprocess_input adds to a model): a class of Keras's own ops modules, which runs no user
    code when it is rebuilt."""
    import importlib

    import keras

    if not str(module).startswith("keras.src.ops."):
        return False
    try:
        found = getattr(importlib.import_module(str(module)), class_name, None)
    except ImportError:
        return False
    return isinstance(found, type) and issubclass(found, keras.Operation)


def config_problems(config: dict[str, Any]) -> list[str]:
    """What in a Keras model config could run code on load: Lambda layers, layers that are not
    built into Keras, functions or objects from outside Keras."""
    problems: list[str] = []
    for layer in _layer_entries(config):
        name = (layer.get("config") or {}).get("name", "?")
        class_name = str(layer.get("class_name"))
        if class_name == "Lambda":
            problems.append(f"a Lambda layer ({name!r})")
        elif (
            class_name not in _CONTAINERS
            and not _builtin_layer(class_name)
            and not _builtin_operation(layer.get("module"), class_name)
        ):
            problems.append(f"a custom layer ({class_name} {name!r}) that is not built into Keras")
    for entry in _walk(config):
        registered = entry.get("registered_name")
        custom = isinstance(registered, str) and ">" in registered  # "package>Name"
        if custom or not _is_keras_module(entry.get("module")):
            problems.append(f"custom code ({entry.get('module')}.{entry.get('class_name')})")
        elif entry.get("class_name") == "__lambda__":
            problems.append("a Python lambda")
    return list(dict.fromkeys(problems))


def _h5_config(path: Path) -> dict[str, Any]:
    import h5py

    with h5py.File(path, "r") as handle:
        raw = handle.attrs.get("model_config")
    if raw is None:
        raise ExportError(
            f"{path.name} holds no model config (weights only?); save the whole model with model.save"
        )
    return dict(json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)))


def _keras_archive_config(path: Path) -> dict[str, Any]:
    try:
        with zipfile.ZipFile(path) as archive:
            return dict(json.loads(archive.read("config.json")))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ExportError(f"{path.name} is not a readable .keras archive ({exc})") from None


def _saved_model_ops(folder: Path) -> set[str]:
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel()
    saved.ParseFromString((folder / "saved_model.pb").read_bytes())
    ops: set[str] = set()
    for graph in saved.meta_graphs:
        ops.update(node.op for node in graph.graph_def.node)
        for function in graph.graph_def.library.function:
            ops.update(node.op for node in function.node_def)
    return ops


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at += 1
        if not byte & 0x80:
            return value, at
        shift += 7


def _fields(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(field number, bytes) of each length-delimited field of a protobuf message (others skipped)."""
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, at = _varint(data, at)
        elif wire == 1:
            at += 8
        elif wire == 5:
            at += 4
        elif wire == 2:
            size, at = _varint(data, at)
            yield number, data[at : at + size]
            at += size
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")


# keras_metadata.pb identifiers of layers; networks (_tf_keras_model, ...) are containers.
_LAYER_IDENTIFIERS = frozenset({"_tf_keras_layer", "_tf_keras_input_layer", "_tf_keras_rnn_layer"})


def keras_metadata_layers(data: bytes) -> list[dict[str, Any]]:
    """The layers of a keras_metadata.pb as {"class_name", "config": {"name"}}, read as plain protobuf
    wire format: SavedMetadata holds nodes = 1, each a SavedObject with identifier = 4 and
    metadata = 5 (JSON)."""
    layers = []
    for number, node in _fields(data):
        if number != 1:
            continue
        fields = dict(_fields(node))
        if fields.get(4, b"").decode("utf-8") in _LAYER_IDENTIFIERS and fields.get(5):
            metadata = json.loads(fields[5].decode("utf-8"))
            layers.append(
                {"class_name": metadata.get("class_name"), "config": {"name": metadata.get("name")}}
            )
    return layers


def _saved_model_problems(folder: Path) -> list[str]:
    if not (folder / "saved_model.pb").exists():
        raise ExportError(f"{folder} is a folder but not a SavedModel (no saved_model.pb)")
    problems = [f"the graph op {op}" for op in sorted(_saved_model_ops(folder) & UNSAFE_OPS)]
    metadata = folder / "keras_metadata.pb"
    if metadata.exists():
        try:
            layers = keras_metadata_layers(metadata.read_bytes())
        except (ValueError, IndexError, UnicodeDecodeError) as exc:
            raise ExportError(f"{metadata} cannot be read ({exc})") from None
        for layer in layers:
            problems.extend(config_problems(layer))
    return list(dict.fromkeys(problems))


def unsafe_content(path: Path) -> list[str]:
    """What in the saved model at `path` (.keras, .h5/.hdf5, SavedModel folder) could run code when
    it is loaded; [] when nothing. ExportError when the file cannot be read as such a model."""
    path = Path(path)
    if path.is_dir():
        return _saved_model_problems(path)
    suffix = path.suffix.lower()
    if suffix == ".keras":
        return config_problems(_keras_archive_config(path))
    if suffix in (".h5", ".hdf5"):
        try:
            return config_problems(_h5_config(path))
        except (OSError, ValueError) as exc:
            raise ExportError(f"{path.name} is not a readable HDF5 Keras model ({exc})") from None
    raise ExportError(f"{path.name}: expected a .keras or .h5 file or a SavedModel folder")
