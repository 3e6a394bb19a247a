"""The two-step resize (`reducing_gap`): reduced-scale JPEG decoding and exact geometry."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from edgexray import Classifier, ClassifierOptions
from edgexray.demo import default_model, samples_folder
from edgexray.preprocessing import Preprocessor
from edgexray.preprocessing.decode import decode


def _radiograph_like(width: int, height: int) -> np.ndarray:
    """Smooth, asymmetric content: a ramp left to right, a bright disc in the upper left."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    ramp = 40 + 150 * x / (width - 1)
    disc = 60 * ((x - width * 0.3) ** 2 + (y - height * 0.25) ** 2 < (0.12 * width) ** 2)
    return np.clip(ramp + disc, 0, 255).astype(np.uint8)


def _save(tmp_path, name: str, pixels: np.ndarray, **options) -> str:
    path = tmp_path / name
    Image.fromarray(pixels, "L").save(path, **options)
    return str(path)


def test_a_large_jpeg_is_decoded_at_reduced_scale_but_not_below_the_gap(tmp_path):
    path = _save(tmp_path, "big.jpg", _radiograph_like(1024, 1024), quality=95)
    decoded = decode(path, "L", draft=(512, 512))
    assert decoded.image.size == (512, 512)  # 1/2 scale: 1/4 would fall below 512
    assert decoded.box == (0, 0, 512, 512)
    assert decode(path, "L").image.size == (1024, 1024)  # no draft asked: full decode


def test_other_formats_decode_in_full(tmp_path):
    path = _save(tmp_path, "big.png", _radiograph_like(1024, 1024))
    decoded = decode(path, "L", draft=(256, 256))
    assert decoded.image.size == (1024, 1024)
    assert decoded.box is None


def test_sizes_that_do_not_divide_keep_their_geometry(tmp_path):
    # 1001 / 2 rounds up to 501 decoded columns, the last one covering half a source pixel: the
    # resize must read the box, or the whole picture shifts by a quarter of an output pixel.
    pixels = _radiograph_like(1001, 803)
    path = _save(tmp_path, "odd.jpg", pixels, quality=95)
    decoded = decode(path, "L", draft=(400, 400))
    assert decoded.image.size == (501, 402)
    assert decoded.box == pytest.approx((0, 0, 500.5, 401.5))
    exact = Preprocessor(200, 200, "grayscale", "raw").pixels(path).astype(float)
    fast = Preprocessor(200, 200, "grayscale", "raw", reducing_gap=2.0).pixels(path).astype(float)
    unboxed = np.asarray(decoded.image.resize((200, 200), Image.Resampling.BILINEAR), float)
    assert np.abs(fast - exact).mean() < 0.5  # grey levels, of 255
    assert np.abs(unboxed - exact[..., 0]).mean() > np.abs(fast - exact).mean()


def test_a_turned_jpeg_is_decoded_in_full_and_turned(tmp_path):
    pixels = _radiograph_like(1024, 768)
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned 90 degrees clockwise
    path = _save(tmp_path, "turned.jpg", pixels, quality=95, exif=exif)
    decoded = decode(path, "L", draft=(256, 256))
    assert decoded.image.size == (768, 1024)  # turned, and not reduced
    assert decoded.box is None
    exact = Preprocessor(256, 256, "grayscale", "raw").pixels(path).astype(float)
    fast = Preprocessor(256, 256, "grayscale", "raw", reducing_gap=2.0).pixels(path).astype(float)
    assert np.abs(fast - exact).mean() < 0.5


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_two_step_resize_stays_within_a_grey_level_of_one_step(tmp_path, suffix):
    path = _save(tmp_path, f"big{suffix}", _radiograph_like(1024, 1024), quality=95)
    exact = Preprocessor(256, 256, "grayscale", "raw").pixels(path).astype(float)
    fast = Preprocessor(256, 256, "grayscale", "raw", reducing_gap=2.0).pixels(path).astype(float)
    assert 0 < np.abs(fast - exact).mean() < 1.0
    assert np.abs(fast - exact).max() <= 8


def test_nearest_ignores_the_gap_for_every_format(tmp_path):
    # Pillow does not reduce in two steps for NEAREST; a reduced-scale JPEG decode would average.
    noise = np.random.default_rng(0).integers(0, 256, (1024, 1024), dtype=np.uint8)
    for name in ("noise.jpg", "noise.png"):
        path = _save(tmp_path, name, noise, quality=95)
        exact = Preprocessor(128, 128, "grayscale", "raw", "nearest").pixels(path)
        fast = Preprocessor(128, 128, "grayscale", "raw", "nearest", reducing_gap=2.0).pixels(path)
        assert np.array_equal(fast, exact), name


def test_no_gap_is_the_one_step_resize_of_training(tmp_path):
    path = _save(tmp_path, "big.jpg", _radiograph_like(1024, 1024), quality=95)
    want = np.asarray(Image.open(path).resize((256, 256), Image.Resampling.BILINEAR))
    assert np.array_equal(Preprocessor(256, 256, "grayscale", "raw").pixels(path)[..., 0], want)


def test_small_images_are_not_touched_by_the_gap(tmp_path):
    path = _save(tmp_path, "small.jpg", _radiograph_like(300, 300), quality=95)
    exact = Preprocessor(256, 256, "grayscale", "raw").pixels(path)
    assert np.array_equal(
        Preprocessor(256, 256, "grayscale", "raw", reducing_gap=2.0).pixels(path), exact
    )


@pytest.mark.parametrize("gap", [0.0, 0.5, -1.0, float("nan")])
def test_a_gap_below_one_is_refused(gap):
    with pytest.raises(ValueError, match="reducing_gap"):
        Preprocessor(8, 8, reducing_gap=gap)
    with pytest.raises(ValueError, match="reducing_gap"):
        ClassifierOptions(reducing_gap=gap)


def test_the_demo_model_with_a_gap_decides_like_without(tmp_path):
    exact = Classifier(default_model())
    fast = Classifier(default_model(), ClassifierOptions(reducing_gap=2.0))
    for sample in sorted(samples_folder().rglob("*.*")):
        big = Image.open(sample).convert("L").resize((1024, 1024), Image.Resampling.BICUBIC)
        path = tmp_path / f"{sample.stem}.jpg"
        big.save(path, quality=92)
        want, got = exact.predict(path), fast.predict(path)
        assert got.label == want.label
        for label, p in want.probabilities.items():
            assert got.probabilities[label] == pytest.approx(p, abs=0.05)
