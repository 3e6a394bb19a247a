"""The orientation check: an input that matches the calibration images better inverted or turned
over is refused as such, before inference (card schema 4), even when export had only a handful of
calibration images. Runs on the tiny `binary_gray` model (16x16 input, no TensorFlow)."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import DATA, run_edgexray, skip_unless_an_engine_reads, tiny_card
from edgexray_export.calibration_variants import calibration_variants
from edgexray_export.model_check_fit import OrientationConfig, fit_orientation_check
from test_appearance_check import _chest_like

from edgexray import Classifier, ClassifierOptions
from edgexray.card import ModelCard
from edgexray.errors import CardError, DamagedCardError
from edgexray.modelcheck import appearance_features
from edgexray.modelcheck.orientation import INVERTED_REASON, UPSIDE_DOWN_REASON, turned_over
from edgexray.modelfile import read_card, write_card

CALIBRATION = 8


def _films(seed: int, count: int) -> list[np.ndarray]:
    return [_chest_like(np.random.default_rng([seed, i])) for i in range(count)]


@pytest.fixture
def oriented_model(tmp_path: Path):
    """A copy of the tiny binary model whose card carries only an orientation check, fitted on 8
    pictures of the chest-like family (too few for the appearance check)."""
    skip_unless_an_engine_reads("binary_gray.tflite")
    path = tmp_path / "binary_gray.tflite"
    shutil.copy(DATA / "binary_gray.tflite", path)
    write_card(path, tiny_card("binary_gray"))
    with Classifier(path, ClassifierOptions(input_check="off", decode_workers=0)) as clf:
        x = np.stack([clf.preprocessor(film) for film in _films(1, CALIBRATION)])
    summary = fit_orientation_check(x)
    assert summary is not None
    write_card(path, tiny_card("binary_gray", orientation_check=summary))
    return path


def test_variants_keep_the_layout_and_are_counted() -> None:
    x = np.stack([f[..., None] / 255.0 for f in _films(2, 3)]).astype(np.float32)
    variants, sources = calibration_variants(x, per_image=4, seed=0)
    assert variants.shape == (12, 64, 64, 1) and list(sources) == [0] * 4 + [1] * 4 + [2] * 4
    assert variants.min() >= 0.0 and variants.max() <= 1.0
    # Variants differ from their film (framing, exposure, borders) but stay upright.
    assert not np.allclose(variants[0, ..., 0], x[0, ..., 0])
    summary = fit_orientation_check(x.repeat(3, axis=0)[:8], OrientationConfig(variants=4))
    assert summary is not None and summary.images == 8 and summary.augmented_images == 32


def test_few_images_fit_it_and_the_card_records_the_counts(oriented_model) -> None:
    card = read_card(oriented_model)
    assert card is not None and card.schema_version == 4
    summary = card.orientation_check
    assert summary is not None and card.appearance_check is None
    assert summary.images == CALIBRATION and summary.augmented_images == 8 * CALIBRATION
    assert summary.polarity_threshold == 0.0 and summary.turn_threshold == 0.0
    info = run_edgexray("info", str(oriented_model))
    line = next(x for x in info.stdout.splitlines() if x.startswith("orientation check:"))
    assert f"fitted on {CALIBRATION} calibration images and 64 variants of them" in line


def test_upside_down_and_inverted_films_are_refused_each_with_its_reason(oriented_model) -> None:
    upright = _films(50, 12)
    down = [film[::-1].copy() for film in upright]
    inverted = [255 - film for film in upright]
    with Classifier(oriented_model, ClassifierOptions(decode_workers=0)) as clf:
        results = clf.predict_batch(upright + down + inverted)
    for result in results[:12]:
        assert result.label is not None and result.input_check.status == "passed"
        note = result.input_check.to_dict()["orientation"]
        assert note["polarity"] > 0 and note["turn"] > 0
    for result, reason, check in [
        (r, UPSIDE_DOWN_REASON, "upside-down") for r in results[12:24]
    ] + [(r, INVERTED_REASON, "inverted") for r in results[24:]]:
        assert result.label is None and result.rejected == reason
        (finding,) = result.input_check.findings
        assert finding.check == check and finding.score < finding.threshold


def test_a_symmetric_calibration_set_does_not_check_the_turn() -> None:
    """Films whose layout is the same turned over cannot tell upside down: the card says so
    instead of refusing upright films."""
    films = [np.concatenate([f[:32], f[:32][::-1]]) for f in _films(3, CALIBRATION)]
    x = np.stack([f[..., None] / 255.0 for f in films]).astype(np.float32)
    summary = fit_orientation_check(x)
    assert summary is not None and summary.turn_threshold is None
    assert "upside down: not checked" in summary.describe()
    layouts = np.zeros((1, 256))
    np.testing.assert_array_equal(turned_over(layouts), layouts)


def test_one_nearly_symmetric_calibration_film_does_not_turn_the_check_off() -> None:
    """Issue 24: with 8 images, one left-out film reading barely upright (a turn of 0.1 where the
    others read about 1) used to switch the turn check off for the whole model, and every
    upside-down film then passed. Now the check stays, and that film still reads upright."""
    films = _films(4, CALIBRATION)
    films[0] = (0.55 * films[0] + 0.45 * films[0][::-1]).astype(films[0].dtype)
    x = np.stack([f[..., None] / 255.0 for f in films]).astype(np.float32)
    summary = fit_orientation_check(x)
    assert summary is not None and summary.turn_threshold == 0.0
    assert 0.0 < summary.notes["left_out_turn_min"] < 0.25
    assert summary.notes["left_out_turned"] == 0.0 and summary.notes["left_out_turn_median"] > 0.5
    _, turn = summary.scores(appearance_features(x[:1]))
    assert turn[0] > 0.0
    # A set in which a left-out film reads upside down still goes unchecked: it would refuse
    # films like that one.
    films[1] = films[1][::-1].copy()
    x = np.stack([f[..., None] / 255.0 for f in films]).astype(np.float32)
    unchecked = fit_orientation_check(x)
    assert unchecked is not None and unchecked.turn_threshold is None
    assert unchecked.notes["left_out_turned"] == pytest.approx(1 / CALIBRATION, abs=1e-4)


def test_the_card_validates_and_seals_it_and_a_version_3_card_loads_without_it(
    oriented_model, tmp_path: Path
) -> None:
    card = read_card(oriented_model)
    assert card is not None and card.orientation_check is not None
    data = card.sealed().to_dict()
    loaded = ModelCard.from_dict(json.loads(json.dumps(data)))
    assert loaded.orientation_check == card.orientation_check
    data["orientation_check"] = dict(data["orientation_check"], turn_threshold=-99.0)
    with pytest.raises(DamagedCardError):
        ModelCard.from_dict(data)
    with pytest.raises(CardError, match="schema_version 4"):
        dataclasses.replace(card, schema_version=3, card_sha256=None)
    old = tmp_path / "old.tflite"
    shutil.copy(DATA / "binary_gray.tflite", old)
    write_card(old, tiny_card("binary_gray", schema_version=3))
    with Classifier(old) as clf:
        result = clf.predict(_films(60, 1)[0][::-1].copy())
    assert "orientation" not in result.input_check.to_dict()
    info = run_edgexray("info", str(old))
    assert "orientation check: none (card schema 3; re-export to add it)" in info.stdout


def _opacity(film: np.ndarray) -> np.ndarray:
    """The film with a dense round opacity in its upper left lung field (bright, like bone): on
    the coarse layout, that half looks like the heart turned up."""
    yy, xx = np.mgrid[0:64, 0:64] / 64
    inside = ((xx - 0.3) / 0.2) ** 2 + ((yy - 0.3) / 0.2) ** 2 < 1
    return np.where(inside, 255, film).astype(np.uint8)


def test_an_opacity_in_one_lung_does_not_turn_an_upright_film_over(oriented_model) -> None:
    films = [_opacity(film) for film in _films(70, 6)]
    card = read_card(oriented_model)
    assert card is not None and card.orientation_check is not None
    weights = card.orientation_check.decoded[1]
    with Classifier(oriented_model, ClassifierOptions(decode_workers=0)) as clf:
        layouts = np.stack([appearance_features(clf.preprocessor(f)[None])[0] for f in films])
        results = clf.predict_batch(films)
    halves = layouts @ weights.T
    assert np.all(halves[:, 0] < 0) and np.all(
        halves.sum(axis=1) < 0
    )  # the left half, and the whole
    for result in results:
        assert result.label is not None and result.input_check.status == "passed"
        assert result.input_check.to_dict()["orientation"]["turn"] > 0


def test_the_layout_is_made_once_for_the_orientation_and_appearance_checks(
    oriented_model, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both checks read the model input's coarse layout: one computation per input serves both."""
    from edgexray_export.model_check_fit import ModelCheckConfig, fit_appearance_check

    from edgexray.stages import stage

    with Classifier(oriented_model, ClassifierOptions(input_check="off", decode_workers=0)) as clf:
        x = np.stack([clf.preprocessor(film) for film in _films(3, 60)])
    card = read_card(oriented_model)
    assert card is not None and card.orientation_check is not None
    appearance = fit_appearance_check(x, ModelCheckConfig(method="knn", components=8))
    orientation = card.orientation_check
    write_card(
        oriented_model,
        tiny_card("binary_gray", orientation_check=orientation, appearance_check=appearance),
    )
    made: list[int] = []

    def counted(batch: np.ndarray) -> np.ndarray:
        made.append(len(batch))
        return appearance_features(batch)

    monkeypatch.setattr(stage, "appearance_features", counted)
    with Classifier(oriented_model, ClassifierOptions(decode_workers=0)) as clf:
        results = clf.predict_batch(_films(60, 3))
    assert all(r.input_check.status == "passed" for r in results), results
    notes = [r.input_check.to_dict() for r in results]
    assert all("orientation" in n and "appearance_score" in str(n) for n in notes), notes
    assert made == [1, 1, 1]
