"""Standard TFLite Metadata beside the edgexray card: the tiny three-class model gets it, MediaPipe's
own schema reads it back, the file still runs in edgexray, and the signature covers labels.txt."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

pytest.importorskip("tensorflow")
from conftest import DATA, tiny_card
from edgexray_export.variants import tflite_metadata

from edgexray import Classifier
from edgexray.errors import UntrustedModelError
from edgexray.mediapipe_support import mediapipe_support
from edgexray.modelfile import read_model_file, write_card, write_entries

pytestmark = pytest.mark.tensorflow


@pytest.fixture
def embedded(tmp_path: Path) -> Path:
    path = tmp_path / "three_rgb.tflite"
    path.write_bytes((DATA / "three_rgb.tflite").read_bytes())
    write_card(path, tiny_card("three_rgb.tflite", normalize="symmetric", variant="tflite-fp32"))
    tflite_metadata.embed(path, license="Apache-2.0")
    return path


def _metadata(path: Path) -> object:
    schema = pytest.importorskip("mediapipe.tasks.metadata.metadata_schema_py_generated")
    from tensorflow.lite.python import schema_py_generated as tflite

    payload = read_model_file(path).payload
    model = tflite.Model.GetRootAsModel(payload, 0)
    names = [model.Metadata(i).Name() for i in range(model.MetadataLength())]
    buffer = model.Buffers(model.Metadata(names.index(b"TFLITE_METADATA")).Buffer())
    data = buffer.DataAsNumpy().tobytes()
    assert schema.ModelMetadata.ModelMetadataBufferHasIdentifier(data, 0)
    return schema.ModelMetadata.GetRootAsModelMetadata(data, 0)


def test_metadata_says_image_normalization_and_labels(embedded: Path) -> None:
    schema = pytest.importorskip("mediapipe.tasks.metadata.metadata_schema_py_generated")
    metadata = _metadata(embedded)
    assert metadata.License() == b"Apache-2.0"
    graph = metadata.SubgraphMetadata(0)
    image = graph.InputTensorMetadata(0)
    assert image.Content().ContentPropertiesType() == schema.ContentProperties.ImageProperties
    unit = image.ProcessUnits(0)
    assert unit.OptionsType() == schema.ProcessUnitOptions.NormalizationOptions
    options = schema.NormalizationOptions()
    options.Init(unit.Options().Bytes, unit.Options().Pos)
    assert (options.Mean(0), options.Std(0)) == (127.5, 127.5)
    outputs = [graph.OutputTensorMetadata(i) for i in range(graph.OutputTensorMetadataLength())]
    assert [o.Name() for o in outputs] == [b"probabilities"]
    labels = outputs[0].AssociatedFiles(0)
    assert labels.Name() == b"labels.txt"
    assert labels.Type() == schema.AssociatedFileType.TENSOR_AXIS_LABELS


def test_labels_file_is_a_stored_member_and_the_model_still_runs(embedded: Path) -> None:
    with zipfile.ZipFile(embedded) as archive:
        assert archive.read("labels.txt") == b"COVID\nNORMAL\nPNEUMONIA\n"
        assert {i.compress_type for i in archive.infolist()} == {zipfile.ZIP_STORED}
    checked = read_model_file(embedded)
    assert checked.card is not None and checked.card.payload_sha256 == checked.payload_sha256()
    with Classifier(embedded) as classifier:
        assert classifier.labels == ("COVID", "NORMAL", "PNEUMONIA")
    assert mediapipe_support(checked.card).runs


def test_the_signature_covers_the_labels_file(embedded: Path, tmp_path: Path) -> None:
    pytest.importorskip("cryptography")
    from edgexray.signing.keys import generate_key_pair
    from edgexray.signing.sign import sign_model
    from edgexray.signing.verify import TrustPolicy, verify_model

    private, public, _ = generate_key_pair(tmp_path / "key")
    sign_model(embedded, private)
    verify_model(embedded, TrustPolicy((public,)))
    entries = dict(read_model_file(embedded).entries)
    write_entries(embedded, {**entries, "labels": "COVID\nPNEUMONIA\nNORMAL\n"})
    with pytest.raises(UntrustedModelError):
        verify_model(embedded, TrustPolicy((public,)))


def test_models_mediapipe_cannot_run_are_said_so() -> None:
    gray = mediapipe_support(tiny_card("binary_gray.tflite"))
    assert not gray.runs
    assert "1-channel" in gray.describe() and "sigmoid" in gray.describe()
    per_channel = mediapipe_support(tiny_card("three_rgb.tflite", normalize="imagenet"))
    assert not per_channel.runs and "NormalizationOptions" in per_channel.describe()
