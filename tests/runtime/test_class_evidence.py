"""Class evidence: models exported with it explain a decision from one inference, on every engine.

The committed models (tests/data/make_tiny_models.py --evidence) were written through export's own
graph_outputs: quadrant_evidence sees only the top-right quadrant of its input, so its evidence is
there by construction; three_evidence is a 3-class softmax whose Keras evidence is on record."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result
from conftest import tiny_card
from test_explain import ENGINE_BUGS, FLAGS, OVERRIDES, _image

from edgexray import Classifier, ClassifierOptions, exit_codes
from edgexray.card_resolution import CardOverrides
from edgexray.cli.main import cli
from edgexray.engines import ENGINES, EngineOptions, available_engines, open_engine
from edgexray.errors import NoClassEvidenceError
from edgexray.explain import OcclusionConfig
from edgexray.explain.class_evidence import label_shares, upsample
from edgexray.modelfile import write_card

DATA = Path(__file__).parent.parent / "data"
QUADRANT = ("quadrant_evidence.tflite", "quadrant_evidence.int8.tflite", "quadrant_evidence.onnx")
THREE = ("three_evidence.tflite", "three_evidence.onnx")


def _engines(model: str) -> list[str]:
    """The engines that run `model`, less OpenVINO on the quadrant's padded 1x1 Conv (ENGINE_BUGS:
    the padded region can be left uninitialized, which the evidence, cell by cell, shows)."""
    suffix = Path(model).suffix
    bugs = {(m.replace("quadrant", "quadrant_evidence"), e) for m, e in ENGINE_BUGS}
    return [
        name
        for name in available_engines()
        if suffix in ENGINES[name].suffixes and (model, name) not in bugs
    ]


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize(("model", "engine"), [(m, e) for m in THREE for e in _engines(m)], ids=str)
def test_every_engine_gives_the_keras_evidence_and_it_sums_to_the_logits(
    model: str, engine: str
) -> None:
    reference = np.load(DATA / "evidence_reference.npz")
    loaded = open_engine(DATA / model, EngineOptions(threads=1), engine)
    try:
        assert loaded.evidence is not None and loaded.evidence.shape[1:] == (8, 8, 3)
        outputs = loaded.infer(reference["x"])
    finally:
        loaded.close()
    assert outputs.evidence is not None and outputs.evidence.shape == (8, 8, 8, 3)
    np.testing.assert_allclose(outputs.evidence, reference["evidence"], atol=1e-5)
    # The cells' shares and the head's bias are the logits: the prediction is their softmax.
    logits = outputs.evidence.sum(axis=(1, 2)) + reference["bias"]
    np.testing.assert_allclose(_softmax(logits), outputs.prediction, atol=1e-5)


def test_a_model_without_the_output_has_no_evidence() -> None:
    loaded = open_engine(DATA / "three_rgb.tflite", EngineOptions(threads=1))
    try:
        assert loaded.evidence is None
        assert loaded.infer(np.zeros((2, 16, 16, 3), np.float32)).evidence is None
    finally:
        loaded.close()


@pytest.mark.parametrize(
    ("model", "engine"), [(m, e) for m in QUADRANT for e in _engines(m)], ids=str
)
def test_the_evidence_map_lies_in_the_quadrant_the_model_sees(
    tmp_path: Path, model: str, engine: str
) -> None:
    image = _image(tmp_path / "chest.png")
    options = ClassifierOptions(engine=engine, threads=1)
    with Classifier(DATA / model, options, OVERRIDES) as clf:
        assert clf.has_class_evidence
        explanation = clf.explain(image)
    assert explanation.method == "class-evidence"
    assert explanation.settings == {"cells": [16, 16], "engine_images": 1}
    assert explanation.prediction.label == explanation.target == "PNEUMONIA"
    heatmap = explanation.heatmap
    assert heatmap.shape == (16, 16)
    summary = explanation.summary
    assert summary.localized and summary.peak_y < 8 and summary.peak_x >= 8
    # Outside the quadrant the model sees nothing: no evidence there, for or against.
    assert np.abs(heatmap[9:, :7]).max() < 0.05 * summary.peak_value
    assert heatmap[:8, 8:].min() > 0
    record = explanation.to_record()
    assert record["method"] == "class-evidence" and record["localized"] is True


def test_the_other_label_gets_the_same_map_with_the_opposite_sign(tmp_path: Path) -> None:
    image = _image(tmp_path / "chest.png")
    with Classifier(DATA / "quadrant_evidence.tflite", overrides=OVERRIDES) as clf:
        for_it = clf.explain(image)
        against = clf.explain(image, "NORMAL")
    np.testing.assert_allclose(against.heatmap, -for_it.heatmap, atol=1e-6)
    assert not against.summary.localized


def test_occlusion_can_still_be_asked_for(tmp_path: Path) -> None:
    image = _image(tmp_path / "chest.png")
    with Classifier(DATA / "quadrant_evidence.tflite", overrides=OVERRIDES) as clf:
        explanation = clf.explain(image, config=OcclusionConfig(steps=3), method="occlusion")
    assert explanation.method == "occlusion-keep"
    assert explanation.settings["engine_images"] > 1


def test_a_model_without_class_evidence_is_explained_by_occlusion(tmp_path: Path) -> None:
    image = _image(tmp_path / "chest.png")
    with Classifier(DATA / "quadrant.tflite", overrides=OVERRIDES) as clf:
        assert not clf.has_class_evidence
        assert clf.explain(image).method == "occlusion-keep"
        with pytest.raises(NoClassEvidenceError, match="no class evidence output"):
            clf.explain(image, method="class-evidence")


def test_the_cli_takes_the_method_and_refuses_one_the_model_cannot_run(tmp_path: Path) -> None:
    image = _image(tmp_path / "chest.png")

    def explain(model: str, *method: str) -> Result:
        out = tmp_path / f"out{len(list(tmp_path.iterdir()))}"
        arguments = ["explain", "-m", str(DATA / model), *FLAGS, str(image), *method]
        return CliRunner().invoke(cli, [*arguments, "-o", str(out)])

    ran = explain("quadrant_evidence.onnx")
    assert ran.exit_code == 0, ran.output
    record = json.loads(ran.stdout.splitlines()[0])
    assert record["method"] == "class-evidence" and record["engine_images"] == 1
    refused = explain("quadrant.onnx", "--method", "class-evidence")
    assert refused.exit_code == exit_codes.USAGE, refused.output
    assert "no class evidence output" in refused.output
    assert "Traceback" not in refused.output
    gradcam = explain("quadrant.onnx", "--method", "gradcam")
    assert gradcam.exit_code == exit_codes.USAGE and "--keras" in gradcam.output


def test_binary_shares_are_the_logit_shares_for_and_against() -> None:
    evidence = np.arange(6, dtype=np.float64).reshape(2, 3, 1) - 2.5
    shares = label_shares(evidence, np.array([0.3, 0.7]), binary=True)
    np.testing.assert_array_equal(shares[..., 1], evidence[..., 0])
    np.testing.assert_array_equal(shares[..., 0], -evidence[..., 0])


def test_softmax_shares_are_the_change_of_each_labels_log_odds() -> None:
    """Each cell's share is the first-order change of the label's log-odds, z_k - log sum_{m != k}
    exp(z_m), when that cell's logit shares are removed: checked against the exact change for
    small shares."""
    rng = np.random.default_rng(0)
    logits = np.array([1.0, -0.5, 0.25])
    evidence = rng.normal(0, 1e-4, (3, 2, 3))
    p = _softmax(logits)
    shares = label_shares(evidence, p, binary=False)

    def log_odds(z: np.ndarray, k: int) -> float:
        others = np.delete(z, k)
        return float(z[k] - np.log(np.exp(others).sum()))

    for k in range(3):
        for i, j in np.ndindex(3, 2):
            exact = log_odds(logits, k) - log_odds(logits - evidence[i, j], k)
            assert shares[i, j, k] == pytest.approx(exact, rel=1e-3, abs=1e-10)


def test_a_sure_decision_weighs_the_other_labels_equally() -> None:
    evidence = np.ones((1, 1, 3)) * np.array([1.0, 2.0, 4.0])
    shares = label_shares(evidence, np.array([1.0, 0.0, 0.0]), binary=False)
    assert shares[0, 0, 0] == pytest.approx(1.0 - 3.0)


def test_upsampling_maps_cell_centres_to_pixel_centres() -> None:
    cells = np.array([[0.0, 1.0], [2.0, 3.0]], dtype=np.float32)
    image = upsample(cells, 4, 4)
    assert image.shape == (4, 4)
    assert image[0, 0] == pytest.approx(0.0) and image[3, 3] == pytest.approx(3.0)
    np.testing.assert_allclose(image[1:3, 1:3].mean(), cells.mean(), atol=1e-6)


def test_classify_explain_uses_the_class_evidence(tmp_path: Path) -> None:
    image = _image(tmp_path / "chest.png")
    out = tmp_path / "explained"
    ran = CliRunner().invoke(
        cli,
        [
            "classify",
            "-m",
            str(DATA / "quadrant_evidence.tflite"),
            *FLAGS,
            str(image),
            "--explain",
            str(out),
            "--format",
            "jsonl",
        ],
    )
    assert ran.exit_code == 0, ran.output
    record = json.loads((out / "chest.json").read_text())
    assert record["method"] == "class-evidence" and record["localized"] is True


def test_a_card_override_does_not_change_the_evidence(tmp_path: Path) -> None:
    image = _image(tmp_path / "chest.png")
    other = CardOverrides(labels=("NORMAL", "PNEUMONIA"), normalize="unit", threshold=0.99)
    with Classifier(DATA / "quadrant_evidence.tflite", overrides=other) as clf:
        explanation = clf.explain(image, "PNEUMONIA")
    with Classifier(DATA / "quadrant_evidence.tflite", overrides=OVERRIDES) as clf:
        reference = clf.explain(image, "PNEUMONIA")
    np.testing.assert_array_equal(explanation.heatmap, reference.heatmap)


@pytest.mark.parametrize(
    ("model", "method"),
    [("quadrant_evidence.tflite", "class evidence"), ("quadrant.tflite", "occlusion")],
)
def test_info_says_how_explain_maps_the_file(tmp_path: Path, model: str, method: str) -> None:
    path = tmp_path / model
    shutil.copy(DATA / model, path)
    write_card(path, tiny_card("binary_gray"))  # the quadrant models' input and output
    shown = CliRunner().invoke(cli, ["info", str(path)])
    assert shown.exit_code == 0, shown.output
    (line,) = [x for x in shown.output.splitlines() if x.startswith("explain: ")]
    assert line.startswith(f"explain: {method}")
