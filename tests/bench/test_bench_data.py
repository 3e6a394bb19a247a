"""Which images a benchmark uses, their classes, and matching them to a saved reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgexray.bench.comparison import comparison_from_reference, find_reference
from edgexray.bench.dataset import load_bench_data
from edgexray.errors import ImageError, ModelError
from edgexray.reference import Reference, ReferenceImage, file_sha256, write_reference

LABELS = ("NORMAL", "PNEUMONIA")


def image(path: Path, value: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 8), value, dtype=np.uint8)).save(path)
    return path


def test_class_sub_folders_give_true_labels(tmp_path: Path) -> None:
    image(tmp_path / "test" / "PNEUMONIA" / "a.png", 1)
    image(tmp_path / "test" / "NORMAL" / "b.png", 2)
    data = load_bench_data(tmp_path, LABELS)
    assert [f.name for f in data.files] == ["b.png", "a.png"]
    assert data.truth is not None and data.truth.tolist() == [0, 1]


def test_a_flat_folder_is_unlabelled(tmp_path: Path) -> None:
    image(tmp_path / "a.png", 1)
    image(tmp_path / "NORMAL" / "b.png", 2)
    data = load_bench_data(tmp_path, LABELS)
    assert len(data.files) == 2 and data.truth is None and not data.labelled


def test_limit_keeps_both_classes_of_a_sorted_folder(tmp_path: Path) -> None:
    for i in range(4):
        image(tmp_path / "NORMAL" / f"{i}.png", i)
        image(tmp_path / "PNEUMONIA" / f"{i}.png", 10 + i)
    data = load_bench_data(tmp_path, LABELS, limit=2)
    assert data.truth is not None and sorted(data.truth.tolist()) == [0, 1]


def test_a_folder_without_images_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("no images here")
    with pytest.raises(ImageError, match="no images found"):
        load_bench_data(tmp_path, LABELS)


def saved_reference(folder: Path, files: list[Path], rows: list[list[float]]) -> Path:
    reference = Reference(
        labels=LABELS,
        images=tuple(ReferenceImage(f"elsewhere/{f.name}", file_sha256(f)) for f in files),
        probabilities=np.array(rows),
    )
    return write_reference(folder / "seed_cnn.reference.json", reference)


def test_reference_rows_are_matched_by_content_not_by_path(tmp_path: Path) -> None:
    a = image(tmp_path / "data" / "a.png", 1)
    b = image(tmp_path / "data" / "b.png", 2)
    c = image(tmp_path / "data" / "c.png", 3)
    path = saved_reference(tmp_path, [c, a], [[0.3, 0.7], [0.9, 0.1]])
    compare = comparison_from_reference(path, (a, b, c), LABELS)
    assert compare.indices.tolist() == [0, 2]
    assert compare.probabilities.tolist() == [[0.9, 0.1], [0.3, 0.7]]


def test_reference_for_other_images_gives_none_and_for_other_labels_is_refused(
    tmp_path: Path,
) -> None:
    a = image(tmp_path / "data" / "a.png", 1)
    other = image(tmp_path / "other.png", 9)
    path = saved_reference(tmp_path, [other], [[0.5, 0.5]])
    assert comparison_from_reference(path, (a,), LABELS) is None  # bench then finds a stand-in
    with pytest.raises(ModelError, match="labels"):
        comparison_from_reference(path, (other,), ("A", "B"))


def test_reference_is_found_beside_the_models_by_card_name(tmp_path: Path) -> None:
    from edgexray.card import ModelCard

    card = ModelCard(("NORMAL", "PNEUMONIA"), "binary", 8, 8, 1, "unit", name="seed_cnn")
    model = tmp_path / "seed_cnn.tflite-int8.tflite"
    assert find_reference([model], [card]) is None
    (tmp_path / "seed_cnn.reference.json").write_text("{}")
    assert find_reference([model], [card]) == tmp_path / "seed_cnn.reference.json"


def test_the_most_exact_variant_stands_in_fp32_before_fp16_never_int8() -> None:
    from edgexray.bench.comparison import stand_in_rank
    from edgexray.bench.measure import Measurement
    from edgexray.bench.runner import RunOutcome, SubjectSpec
    from edgexray.bench.suite import variant_comparison
    from edgexray.bench.timing import percentiles
    from edgexray.card import ModelCard

    def outcome(variant: str, p: float, role: str = "variant", ok: bool = True) -> RunOutcome:
        card = ModelCard(LABELS, "binary", 8, 8, 1, "unit", name="m", variant=variant)
        spec = SubjectSpec(variant, "edgexray", Path(f"{variant}.x"), "x", role=role)
        if not ok:
            return RunOutcome(spec, error="crashed")
        times = percentiles([1.0])
        probabilities = np.array([[1 - p, p]])
        measured = Measurement(card, "e", 1, 1, times, times, {1: 1.0}, 1, probabilities)
        return RunOutcome(spec, measurement=measured)

    assert [stand_in_rank(v) for v in ("onnx-fp32", "tflite-fp16", "tflite-int8")] == [0, 1, None]
    int8, fp16 = outcome("tflite-int8", 0.1), outcome("tflite-fp16", 0.2)
    fp32, broken = outcome("onnx-fp32", 0.3), outcome("tflite-fp32", 0.4, ok=False)
    chosen = variant_comparison([int8, fp16, broken, fp32])
    assert chosen is not None and chosen.against == "onnx-fp32" and chosen.stand_in
    assert chosen.probabilities.tolist() == [[0.7, 0.3]]
    chosen = variant_comparison([int8, fp16])
    assert chosen is not None and chosen.against == "tflite-fp16"
    assert variant_comparison([int8, outcome("onnx-int8", 0.5)]) is None
    assert variant_comparison([fp32]) is None  # nothing else to compare with it
