"""Standard TFLite Metadata in edgexray's .tflite files, for MediaPipe and the LiteRT Task Library.

MediaPipe's `ImageClassifier` reads two things from a model file:

- a `TFLITE_METADATA` buffer in the flatbuffer: a `ModelMetadata` table (schema
  `metadata_schema.fbs`, file identifier `M001`) with the input's image properties and
  `NormalizationOptions` (one mean and one std: per-channel values are not supported) and one
  `TensorMetadata` per output;
- the files the metadata names (`AssociatedFile`), found as members of a zip archive appended to
  the flatbuffer. The labels are `labels.txt`, one label a line, of type `TENSOR_AXIS_LABELS` on
  the probabilities output.

edgexray's container is already a zip appended to the flatbuffer, so `labels.txt` is one more
member of it: the container entry `labels` (edgexray.modelfile.tflite_format), which the card's
signature covers like every entry. The metadata buffer is part of the model bytes, which the card's
`payload_sha256` covers.

Outputs. edgexray files have up to three: the class scores, the model check's pooled features, and
the class evidence map (export/class_evidence.py), in an order of the converter's. All are described:
the scores as `probabilities` with the labels, the features as `features` and the map as
`class_evidence`, each with a description saying it is not class scores and no labels. MediaPipe then reports one classification head per output, by these names; a caller
takes the head named `probabilities` (or `category_allowlist`s nothing from `features`).

What MediaPipe cannot run is said, not hidden (`edgexray.mediapipe_support`, shown by `edgexray
info`): a 1-channel input (its image
classifier feeds RGB), a normalization that is not one mean and one std (`imagenet` is per channel,
`caffe` reorders channels), or a binary model's single sigmoid output (one score, not one per
label). The metadata is still written where it is valid; the card's training_data line is the
model description.

The flatbuffer is written with the `flatbuffers` package from the published schema; the model is
rewritten with TensorFlow's own schema bindings (the export toolchain has TensorFlow). The device
runtime never reads any of this.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgexray.atomic import write_bytes_atomically
from edgexray.card import ModelCard
from edgexray.mediapipe_support import MEDIAPIPE_NORMALIZATION

METADATA_NAME = "TFLITE_METADATA"
METADATA_IDENTIFIER = b"M001"
MIN_PARSER_VERSION = "1.0.0"
LABELS_FILE = "labels.txt"
LABELS_ENTRY = "labels"
PROBABILITIES = "probabilities"
FEATURES = "features"
EVIDENCE = "class_evidence"


# Schema enums and union indices (metadata_schema.fbs).
_RGB, _GRAYSCALE = 1, 2
_IMAGE_PROPERTIES = 2  # ContentProperties union: FeatureProperties 1, ImageProperties 2
_FEATURE_PROPERTIES = 1
_NORMALIZATION_OPTIONS = 1  # ProcessUnitOptions union
_TENSOR_AXIS_LABELS = 2


def labels_text(card: ModelCard) -> str:
    return "".join(f"{label}\n" for label in card.labels)


class _Writer:
    """Tables of the metadata schema, written bottom-up with a flatbuffers Builder."""

    def __init__(self) -> None:
        import flatbuffers

        self.b = flatbuffers.Builder(1024)

    def string(self, text: str) -> int:
        return int(self.b.CreateString(text))

    def table(self, fields: list[tuple[int, str, Any]]) -> int:
        """A table of (slot, kind, value): kind "offset", "byte", "uint" or "float"."""
        b = self.b
        b.StartObject(max((slot for slot, _, _ in fields), default=-1) + 1)
        for slot, kind, value in fields:
            if kind == "offset":
                b.PrependUOffsetTRelativeSlot(slot, value, 0)
            elif kind == "byte":
                b.PrependInt8Slot(slot, value, 0)
            elif kind == "uint":
                b.PrependUint32Slot(slot, value, 0)
        return int(b.EndObject())

    def offsets(self, items: list[int]) -> int:
        return self._vector(items, self.b.PrependUOffsetTRelative)

    def floats(self, values: list[float]) -> int:
        return self._vector(values, self.b.PrependFloat32)

    def _vector(self, items: list[Any], prepend: Any) -> int:
        self.b.StartVector(4, len(items), 4)
        for item in reversed(items):
            prepend(item)
        return int(self.b.EndVector())

    def finish(self, root: int) -> bytes:
        self.b.Finish(root, file_identifier=METADATA_IDENTIFIER)
        return bytes(self.b.Output())


def _input_metadata(w: _Writer, card: ModelCard) -> int:
    name, description = (
        w.string("image"),
        w.string(f"{card.input_width}x{card.input_height} image, normalize {card.normalize}"),
    )
    size = w.table([(0, "uint", card.input_width), (1, "uint", card.input_height)])
    colour = _RGB if card.input_channels == 3 else _GRAYSCALE
    image = w.table([(0, "byte", colour), (1, "offset", size)])
    content = w.table([(0, "byte", _IMAGE_PROPERTIES), (1, "offset", image)])
    fields = [(0, "offset", name), (1, "offset", description), (3, "offset", content)]
    if card.normalize in MEDIAPIPE_NORMALIZATION:
        mean, std = MEDIAPIPE_NORMALIZATION[card.normalize]
        options = w.table([(0, "offset", w.floats([mean])), (1, "offset", w.floats([std]))])
        unit = w.table([(0, "byte", _NORMALIZATION_OPTIONS), (1, "offset", options)])
        fields.append((4, "offset", w.offsets([unit])))
    return w.table(fields)


_NOT_SCORES = {
    FEATURES: "the model check's pooled features (edgexray), not class scores: ignore this head",
    EVIDENCE: "each feature-map cell's share of each logit (edgexray's explanation), not class "
    "scores: ignore this head",
}


def _output_metadata(w: _Writer, card: ModelCard, kind: str) -> int:
    if kind in _NOT_SCORES:
        name = w.string(kind)
        description = w.string(_NOT_SCORES[kind])
        labels = None
    else:
        name = w.string(PROBABILITIES)
        description = w.string(f"{card.output_kind} of {', '.join(card.labels)}")
        label_file = w.table(
            [
                (0, "offset", w.string(LABELS_FILE)),
                (1, "offset", w.string("labels of the probabilities, one a line")),
                (2, "byte", _TENSOR_AXIS_LABELS),
            ]
        )
        labels = w.offsets([label_file])
    feature = w.table([])
    content = w.table([(0, "byte", _FEATURE_PROPERTIES), (1, "offset", feature)])
    fields = [(0, "offset", name), (1, "offset", description), (3, "offset", content)]
    if labels is not None:
        fields.append((6, "offset", labels))
    return w.table(fields)


def metadata_buffer(card: ModelCard, outputs: list[str], license: str = "") -> bytes:
    """The ModelMetadata flatbuffer for a model with `card` whose subgraph outputs are, in order,
    `outputs` (each PROBABILITIES, FEATURES or EVIDENCE)."""
    w = _Writer()
    model_name = w.string(card.name)
    description = w.string(card.training_data or card.intended_use)
    version = w.string(card.variant)
    licence = w.string(license) if license else None
    inputs = w.offsets([_input_metadata(w, card)])
    described = w.offsets([_output_metadata(w, card, kind) for kind in outputs])
    subgraph = w.table([(2, "offset", inputs), (3, "offset", described)])
    subgraphs = w.offsets([subgraph])
    parser = w.string(MIN_PARSER_VERSION)
    fields = [
        (0, "offset", model_name),
        (1, "offset", description),
        (2, "offset", version),
        (3, "offset", subgraphs),
        (4, "offset", w.string("edgexray")),
        (7, "offset", parser),
    ]
    if licence is not None:
        fields.append((5, "offset", licence))
    return w.finish(w.table(fields))


def output_kinds(model: bytes) -> list[str]:
    """PROBABILITIES, FEATURES or EVIDENCE for each subgraph output, in order: the class evidence
    is the one 4-D output (N, h, w, units), the features the widest of the 2-D ones."""
    from tensorflow.lite.python import schema_py_generated as schema

    graph = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(model, 0)).subgraphs[0]
    shapes = [list(graph.tensors[index].shape) for index in graph.outputs]
    flat = [i for i, shape in enumerate(shapes) if len(shape) != 4]
    kinds = [EVIDENCE if len(shape) == 4 else PROBABILITIES for shape in shapes]
    if len(flat) > 1:
        kinds[max(flat, key=lambda i: int(shapes[i][-1]))] = FEATURES
    return kinds


def with_metadata(model: bytes, metadata: bytes) -> bytes:
    """The flatbuffer `model` (no container) with `metadata` as its TFLITE_METADATA buffer,
    replacing one already there."""
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as schema

    tree = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(model, 0))
    tree.metadata = [m for m in (tree.metadata or []) if m.name != METADATA_NAME.encode()]
    buffer = schema.BufferT()
    buffer.data = list(metadata)
    tree.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = METADATA_NAME
    entry.buffer = len(tree.buffers) - 1
    tree.metadata.append(entry)
    builder = flatbuffers.Builder(len(model) + len(metadata) + 1024)
    builder.Finish(tree.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def add_metadata(path: Path, card: ModelCard, license: str = "") -> None:
    """Write TFLite Metadata into the plain .tflite at `path` (before its card is embedded)."""
    model = path.read_bytes()
    write_bytes_atomically(
        path, with_metadata(model, metadata_buffer(card, output_kinds(model), license))
    )


def embed(path: Path, license: str = "") -> ModelCard:
    """Give the exported .tflite at `path` (with its card) TFLite Metadata and `labels.txt`.

    The model bytes change (the metadata buffer), so the card is written again with the new
    payload digest; its other fields stay as they are. A signature is dropped: it was over the
    old bytes (sign the file again). Returns the card as embedded.
    """
    from edgexray.modelfile import read_model_file, write_card
    from edgexray.modelfile.container import CARD_ENTRY
    from edgexray.signing.statement import SIGNATURE_ENTRY

    checked = read_model_file(path)
    if checked.card is None:
        raise ValueError(f"{path}: no card; export the model with edgexray first")
    payload = checked.payload
    model = with_metadata(payload, metadata_buffer(checked.card, output_kinds(payload), license))
    kept = {
        name: text
        for name, text in checked.entries.items()
        if name not in (CARD_ENTRY, SIGNATURE_ENTRY, LABELS_ENTRY)
    }
    write_bytes_atomically(path, model)
    return write_card(
        path,
        checked.card,
        sidecar=True,
        entries={**kept, LABELS_ENTRY: labels_text(checked.card)},
    )
