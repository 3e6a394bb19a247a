"""`edgexray bench` with card overrides (--labels, --normalize...): models without a card are
measured, and every row runs with the overrides, in its own child process, exactly as `Classifier`
runs with them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from bench_images import labelled_noise_images
from click.testing import CliRunner
from conftest import skip_unless_an_engine_reads

from edgexray import exit_codes
from edgexray.bench.measure import TimingPlan
from edgexray.bench.runner import SubjectSpec, run_isolated
from edgexray.card_resolution import CardOverrides
from edgexray.classifier import Classifier, ClassifierOptions
from edgexray.cli.main import cli, main
from edgexray.errors import CardError
from edgexray.modelfile import read_card
from edgexray.reference import Reference, ReferenceImage, file_sha256, write_reference

TEST_DATA = Path(__file__).parents[1] / "data"
LABELS = ("NORMAL", "PNEUMONIA")
QUICK = TimingPlan(runs=2, warmup=0, batch_sizes=(1,), timing_images=2)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """Labelled RGB noise images, so accuracy is reported and grey and RGB models both read them."""
    return labelled_noise_images(tmp_path / "data", LABELS, 6, (20, 18, 3), seed=11)


def plain_copy(name: str, folder: Path) -> Path:
    """A committed tiny model copied without any card (no embedded card, no sidecar)."""
    skip_unless_an_engine_reads(name)
    folder.mkdir(exist_ok=True)
    target = folder / f"plain{Path(name).suffix}"
    shutil.copy(TEST_DATA / name, target)
    assert read_card(target) is None
    return target


def files_of(data: Path) -> list[Path]:
    return sorted(data.rglob("*.png"))


def classifier_probabilities(
    model: Path, overrides: CardOverrides, files: list[Path]
) -> np.ndarray:
    with Classifier(model, ClassifierOptions(input_check="off"), overrides=overrides) as clf:
        return clf.predict_tensor(np.stack([clf.preprocessor(f) for f in files]))


def test_overrides_round_trip_through_the_job_dict_and_are_validated() -> None:
    overrides = CardOverrides(labels=("A", "B"), normalize="symmetric", threshold=0.3)
    assert overrides.to_dict() == {"labels": ["A", "B"], "normalize": "symmetric", "threshold": 0.3}
    assert CardOverrides.from_dict(json.loads(json.dumps(overrides.to_dict()))) == overrides
    assert CardOverrides.from_dict({}) == CardOverrides()
    for bad in ({"labels": ["A"]}, {"normalize": "unitt"}, {"threshold": 1.0}, {"colour": "x"}):
        with pytest.raises(CardError):
            CardOverrides.from_dict(bad)


@pytest.mark.parametrize("with_card", [False, True], ids=["card-less", "card-overridden"])
def test_the_child_process_runs_with_the_overrides(
    with_card: bool, carded, data: Path, tmp_path: Path
) -> None:
    model = carded("three_rgb.tflite") if with_card else plain_copy("three_rgb.tflite", tmp_path)
    # Different labels and normalization from the card carded() writes (its labels, "unit").
    overrides = CardOverrides(labels=("A", "B", "C"), normalize="symmetric")
    files = files_of(data)
    spec = SubjectSpec("plain", "edgexray", model, "tflite", overrides=overrides)
    outcome = run_isolated(spec, files, QUICK, threads=1)
    assert outcome.error is None
    measured = outcome.measurement
    assert measured is not None
    assert measured.card.labels == ("A", "B", "C") and measured.card.normalize == "symmetric"
    expected = classifier_probabilities(model, overrides, files)
    np.testing.assert_allclose(measured.probabilities, expected, atol=1e-6)
    # The override mattered: the model's own (or default) normalization gives other numbers.
    unit = classifier_probabilities(
        model, CardOverrides(labels=("A", "B", "C"), normalize="unit"), files
    )
    assert np.abs(measured.probabilities - unit).max() > 1e-3


def test_bench_cli_measures_cardless_models_from_flags(data: Path, tmp_path: Path) -> None:
    """The demanding user: `bench -m plain.tflite -m plain.onnx --labels ... --normalize unit`."""
    folder = tmp_path / "models"
    models = [plain_copy("binary_gray.tflite", folder), plain_copy("binary_gray.onnx", folder)]
    overrides = CardOverrides(labels=LABELS, normalize="unit")
    files = files_of(data)
    expected = classifier_probabilities(models[0], overrides, files)
    # A reference beside the models, named after the card the flags give them (name = file stem).
    images = tuple(
        ReferenceImage(str(f.relative_to(data)), file_sha256(f), f.parent.name) for f in files
    )
    write_reference(
        folder / "plain.reference.json", Reference(LABELS, images, expected.astype(np.float64))
    )
    out = tmp_path / "bench.json"
    args = ["bench", "--data", str(data), "--runs", "3", "--warmup", "0", "--threads", "1"]
    args += ["--labels", ",".join(LABELS), "--normalize", "unit", "--json", str(out)]
    for model in models:
        args += ["-m", str(model)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == exit_codes.OK, result.output
    report = json.loads(out.read_text())
    assert report["data"]["labels"] == list(LABELS) and report["data"]["labelled"]
    assert report["comparison"]["images"] == len(files)
    with Classifier(models[0], ClassifierOptions(input_check="off"), overrides=overrides) as clf:
        predicted = [clf.predict(f).label for f in files]
    accuracy = np.mean([p == f.parent.name for p, f in zip(predicted, files, strict=True)])
    rows = {row["name"]: row for row in report["results"]}
    assert list(rows) == ["plain.tflite", "plain.onnx"]
    for row in rows.values():
        assert row["error"] is None and row["latency_ms"]["count"] == 3
        assert row["agreement"] == 1.0 and row["max_abs_diff"] < 1e-4
        assert row["accuracy"] == pytest.approx(accuracy)
        assert sum(map(sum, row["metrics"]["confusion_matrix"])) == len(files)
    assert rows["plain.tflite"]["max_abs_diff"] < 1e-6  # the very numbers Classifier gives


def test_cardless_model_without_flags_says_which_flags(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = plain_copy("binary_gray.tflite", tmp_path)
    with pytest.raises(SystemExit) as stop:
        main(["bench", "-m", str(model), "--data", str(data), "--runs", "1"])
    err = capsys.readouterr().err
    assert stop.value.code == exit_codes.FATAL
    (message,) = [line for line in err.splitlines() if line.startswith("edgexray:")]
    assert "no card" in message and "--labels and --normalize" in message
    bad = CliRunner().invoke(cli, ["bench", "-m", str(model), "--data", str(data), "--labels", "X"])
    assert bad.exit_code == exit_codes.USAGE and "at least two" in bad.output
