"""The appearance check: the model input's coarse layout against the calibration images', before
inference (card schema 3). Runs on the tiny `binary_gray` model (16x16 input, no TensorFlow)."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import DATA, run_edgexray, skip_unless_an_engine_reads, tiny_card
from edgexray_export.appearance_choice import choose_appearance
from edgexray_export.model_check_fit import (
    ModelCheckConfig,
    fit_appearance_check,
    fit_model_check,
)

from edgexray import Classifier, ClassifierOptions
from edgexray.card import ModelCard
from edgexray.errors import CardError, DamagedCardError
from edgexray.modelcheck import APPEARANCE_REASON, appearance_features
from edgexray.modelfile import read_card, write_card


def _chest_like(rng: np.random.Generator, size: int = 64) -> np.ndarray:
    """A grey frame, lighter towards the bottom, with two dark ovals in its upper half and a bright
    band across the top: a layout with a top and a bottom."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    image = 120 + 60 * yy + rng.normal(0, 3, (size, size))
    image[: size // 8] += 60
    for cx in (0.3 + rng.uniform(-0.03, 0.03), 0.7 + rng.uniform(-0.03, 0.03)):
        inside = ((xx - cx) / 0.13) ** 2 + ((yy - 0.42) / 0.22) ** 2 < 1
        image = np.where(inside, image - 80 + rng.normal(0, 3), image)
    return np.clip(image, 0, 255).astype(np.uint8)


def _upside_down() -> np.ndarray:
    """The same family turned upside down: every image check passes it."""
    return _chest_like(np.random.default_rng(99))[::-1].copy()


# The layout ----------------------------------------------------------------------------------------


def test_layouts_ignore_exposure_and_contrast_but_not_polarity_or_orientation() -> None:
    x = np.random.default_rng(0).uniform(0, 1, (3, 37, 50, 3))  # sizes that are not multiples
    layout = appearance_features(x)
    assert layout.shape == (3, 256)
    np.testing.assert_allclose(layout.mean(axis=1), 0, atol=1e-6)
    np.testing.assert_allclose(layout.std(axis=1), 1, atol=1e-6)
    np.testing.assert_allclose(appearance_features(0.5 * x + 0.2), layout, atol=1e-4)
    np.testing.assert_allclose(appearance_features(1 - x), -layout, atol=1e-4)
    assert np.abs(appearance_features(x[:, ::-1]) - layout).max() > 0.5
    np.testing.assert_array_equal(appearance_features(np.full((1, 16, 16, 1), 0.3)), 0)
    with pytest.raises(ValueError, match="non-empty"):
        appearance_features(np.zeros((1, 0, 64, 1)))


def test_every_input_size_gets_the_same_fixed_grid() -> None:
    """Inputs smaller than the grid are resampled onto it (the check used to skip them), and a
    film gives nearly the same layout whatever size the model shrinks it to."""
    film = _chest_like(np.random.default_rng(3), 96).astype(np.float32)[None, :, :, None]
    layouts = {
        side: appearance_features(film[:, :: 96 // side, :: 96 // side]) for side in (8, 12, 96)
    }
    assert all(layout.shape == (1, 256) for layout in layouts.values())
    # The 8 x 8 input: every pixel fills a 2 x 2 square of blocks.
    square = layouts[8].reshape(16, 16)
    np.testing.assert_allclose(square[::2, ::2], square[1::2, 1::2], atol=1e-5)
    for side in (8, 12):
        correlation = np.corrcoef(layouts[side][0], layouts[96][0])[0, 1]
        assert correlation > 0.8, (side, correlation)


def test_fitting_needs_enough_images_not_room_for_the_grid() -> None:
    rng = np.random.default_rng(0)
    small = fit_appearance_check(rng.uniform(size=(40, 8, 8, 1)))
    assert small is not None and small.feature_dim == 256
    assert fit_appearance_check(rng.uniform(size=(10, 32, 32, 1))) is None
    summary = fit_appearance_check(rng.uniform(size=(40, 32, 32, 1)))
    assert summary is not None and summary.feature_dim == 256 and summary.components == 19


# The check in the Classifier -----------------------------------------------------------------------


@pytest.fixture
def appearance_model(tmp_path: Path):
    """A copy of the tiny binary model whose card carries an appearance check fitted on 60
    pictures of the chest-like family, preprocessed as the runtime does."""
    skip_unless_an_engine_reads("binary_gray.tflite")
    path = tmp_path / "binary_gray.tflite"
    shutil.copy(DATA / "binary_gray.tflite", path)
    write_card(path, tiny_card("binary_gray"))
    rng = np.random.default_rng(1)
    with Classifier(path, ClassifierOptions(input_check="off", decode_workers=0)) as clf:
        x = np.stack([clf.preprocessor(_chest_like(rng)) for _ in range(60)])
    summary = fit_appearance_check(x, ModelCheckConfig(method="knn", components=8))
    write_card(path, tiny_card("binary_gray", appearance_check=summary))
    return path


def _counting(clf: Classifier) -> list[int]:
    calls: list[int] = []
    invoke = clf.engine._invoke

    def counted(batch: np.ndarray):  # type: ignore[no-untyped-def]
        calls.append(len(batch))
        return invoke(batch)

    clf.engine._invoke = counted  # type: ignore[method-assign]
    return calls


def test_an_input_laid_out_unlike_calibration_is_refused_before_inference(
    appearance_model,
) -> None:
    images = [_chest_like(np.random.default_rng(100 + i)) for i in range(4)] + [_upside_down()]
    with Classifier(appearance_model, ClassifierOptions(decode_workers=0)) as clf:
        calls = _counting(clf)
        results = clf.predict_batch(images)
        single = clf.predict(_upside_down())
    assert calls == [4]  # the refused image is never run, alone or in its batch
    for result in results[:4]:
        check = result.input_check
        assert result.label is not None and check.status == "passed"
        assert check.appearance_score is not None and check.appearance_threshold is not None
        assert check.appearance_score <= check.appearance_threshold
    for refused in (results[-1], single):
        assert refused.label is None and refused.rejected == APPEARANCE_REASON
        finding = refused.input_check.findings[0]
        assert finding.check == "appearance" and finding.score > finding.threshold
        assert refused.input_check.appearance_score == pytest.approx(finding.score, abs=1e-3)


def test_warn_keeps_the_label_and_off_skips_the_check(appearance_model) -> None:
    with Classifier(appearance_model, ClassifierOptions(input_check="warn")) as clf:
        warned = clf.predict(_upside_down())
    assert warned.label is not None and warned.input_check.status == "warned"
    assert warned.input_check.findings[0].check == "appearance"
    with Classifier(appearance_model, ClassifierOptions(input_check="off")) as clf:
        off = clf.predict(_upside_down())
    assert off.label is not None and off.input_check.appearance_score is None


def test_records_and_arrow_rows_carry_the_appearance_score(appearance_model) -> None:
    with Classifier(appearance_model) as clf:
        results = clf.predict_batch([_chest_like(np.random.default_rng(7)), _upside_down()])
    records = [r.to_record() for r in results]
    assert records[0]["input_check"]["appearance_score"] == results[0].input_check.appearance_score
    assert records[1]["rejected"] == APPEARANCE_REASON
    pytest.importorskip("pyarrow")  # the [ray] extra; a device install has no Arrow
    from edgexray.scale.records import records_table, row_to_record

    rows = records_table(results, clf.labels).to_pylist()
    assert [row_to_record(row)["input_check"] for row in rows] == [
        r["input_check"] for r in records
    ]


def test_classify_refuses_it_with_exit_3_and_info_describes_it(
    appearance_model, tmp_path: Path
) -> None:
    from PIL import Image

    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(_chest_like(np.random.default_rng(3))).save(folder / "a.png")
    Image.fromarray(_upside_down()).save(folder / "b.png")
    result = run_edgexray(
        "classify",
        str(folder),
        "-m",
        str(appearance_model),
        "--format",
        "jsonl",
        "--input-check",
        "strict",
    )
    assert result.returncode == 3, result.stderr
    records = {Path(r["path"]).name: r for r in map(json.loads, result.stdout.splitlines())}
    assert records["a.png"]["label"] and records["b.png"]["rejected"] == APPEARANCE_REASON
    assert "Traceback" not in result.stderr
    info = run_edgexray("info", str(appearance_model))
    line = next(x for x in info.stdout.splitlines() if x.startswith("appearance check:"))
    assert "256-d coarse layouts of the input reduced to 8" in line


# Card schema 3 and the migration of version-2 cards --------------------------------------------


def test_a_version_2_card_loads_without_the_check_and_info_says_so(tmp_path: Path) -> None:
    skip_unless_an_engine_reads("binary_gray.tflite")
    path = tmp_path / "binary_gray.tflite"
    shutil.copy(DATA / "binary_gray.tflite", path)
    write_card(path, tiny_card("binary_gray", schema_version=2))
    card = read_card(path)
    assert card is not None and card.appearance_check is None and not card.legacy
    with Classifier(path) as clf:
        result = clf.predict(_upside_down())
    assert result.label is not None and result.input_check.appearance_score is None
    info = run_edgexray("info", str(path))
    assert "appearance check: none (card schema 2; re-export to add it)" in info.stdout


def test_the_card_validates_and_seals_the_appearance_check(appearance_model) -> None:
    card = read_card(appearance_model)
    assert card is not None and card.appearance_check is not None and card.schema_version == 4
    data = card.sealed().to_dict()
    assert ModelCard.from_dict(json.loads(json.dumps(data))).appearance_check == (
        card.appearance_check
    )
    data["appearance_check"] = dict(data["appearance_check"], thresholds={"knn": 99.0})
    with pytest.raises(DamagedCardError):
        ModelCard.from_dict(data)
    with pytest.raises(CardError, match="schema_version 3"):
        dataclasses.replace(card, schema_version=2, card_sha256=None)
    # Any input size has the fixed grid's layout, an 8 px one too.
    assert dataclasses.replace(card, input_height=8, card_sha256=None).appearance_check


def test_the_appearance_check_is_kept_only_for_what_it_alone_refuses() -> None:
    """edgexray_export.appearance_choice on layouts and features made to order: kept while it
    refuses one generated image the model and orientation checks pass, left out otherwise."""
    rng = np.random.default_rng(0)
    films = rng.normal(0, 1, (40, 256))
    appearance = fit_model_check(films, ModelCheckConfig(method="knn", components=8))
    features = rng.gamma(2.0, 1.0, 24) * rng.lognormal(0, 0.2, (40, 24))
    model_check = fit_model_check(features)
    assert appearance is not None and model_check is not None
    odd_layout = films[:3] * 4.0  # far from the calibration layouts
    # Features like the films': only the appearance check refuses the first; the model check
    # refuses the second and third too.
    odd_features = np.stack([features[0], features[0][::-1] * 3, features[1][::-1] * 3])
    kept = choose_appearance(appearance, None, model_check, odd_layout, odd_features)
    assert kept.kept and (kept.refused, kept.alone, kept.images) == (3, 1, 3)
    assert kept.note().startswith("kept: it alone refuses 1 of 3")
    left = choose_appearance(appearance, None, model_check, odd_layout[1:], odd_features[1:])
    assert not left.kept and (left.refused, left.alone) == (2, 0)
    assert left.note().startswith("left out: each of the 2 of 2")
