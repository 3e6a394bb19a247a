"""Valid but unusual files decode to the pixels the same content has as a plain 8-bit PNG, and get the
same probabilities. Lossless cases must match exactly; JPEG cases within JPEG's own error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from robustness_support import carded_copy

from edgexray import Classifier, ClassifierOptions
from edgexray.preprocessing import Preprocessor, load_image

JPEG_MEAN_ERROR = 1.5  # mean absolute error in 0..255 levels of a quality-100, 4:4:4 JPEG
JPEG_PROBABILITY_TOLERANCE = 1e-3


@pytest.fixture(scope="module")
def classifiers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Classifier]:
    return {
        "L": Classifier(
            carded_copy(tmp_path_factory, "binary_gray.onnx"), ClassifierOptions(input_check="off")
        ),
        "RGB": Classifier(
            carded_copy(tmp_path_factory, "three_rgb.onnx"), ClassifierOptions(input_check="off")
        ),
    }


def gray_content(width: int = 40, height: int = 32) -> np.ndarray:
    """Asymmetric: a gradient with a bright block top-left, so a wrong rotation or flip shows."""
    y, x = np.mgrid[0:height, 0:width]
    pixels = (20 + 3 * x + 2 * y).astype(np.uint8)
    pixels[: height // 3, : width // 4] = 250
    return pixels


def rgb_content(width: int = 40, height: int = 32) -> np.ndarray:
    gray = gray_content(width, height)
    return np.stack([gray, 255 - gray, np.roll(gray, 7, axis=1)], axis=-1)


def check_like_plain_png(
    classifiers: dict[str, Classifier],
    unusual: Path,
    content: np.ndarray,
    mean_error: float = 0.0,
    probability_tolerance: float = 1e-6,
) -> None:
    """`unusual` decodes to `content` and classifies as `content` saved as a plain 8-bit PNG does."""
    mode = "L" if content.ndim == 2 else "RGB"
    plain = unusual.with_name(f"plain-{unusual.stem}.png")
    Image.fromarray(content, mode).save(plain)
    decoded = np.asarray(load_image(unusual, mode), dtype=np.float64)
    assert decoded.shape == content.shape
    assert np.abs(decoded - content).mean() <= mean_error
    if mean_error == 0:
        assert np.array_equal(decoded, content)
    for clf in classifiers.values():
        got, expected = clf.predict(unusual), clf.predict(plain)
        assert got.ok and got.label == expected.label
        assert got.probabilities == pytest.approx(expected.probabilities, abs=probability_tolerance)


def test_sixteen_bit_grayscale_png(classifiers, tmp_path):
    content = gray_content()
    # Each 8-bit level v spans 16-bit values around 257 * v; the offset stays within it.
    deep = content.astype(np.uint16) * 257 + 100
    path = tmp_path / "deep.png"
    Image.fromarray(deep).save(path)
    assert Image.open(path).mode.startswith("I")
    check_like_plain_png(classifiers, path, content)


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_alpha_channel_is_dropped(classifiers, tmp_path, mode):
    content = rgb_content() if mode == "RGBA" else gray_content()
    alpha = np.linspace(0, 255, content.shape[0] * content.shape[1]).astype(np.uint8)
    alpha = alpha.reshape(content.shape[:2])
    stacked = np.dstack([content, alpha])
    path = tmp_path / f"alpha-{mode}.png"
    Image.fromarray(stacked, mode).save(path)
    assert Image.open(path).mode == mode
    check_like_plain_png(classifiers, path, content)


@pytest.mark.parametrize("transparent", [False, True])
def test_palette_png(classifiers, tmp_path, transparent):
    palette = np.random.default_rng(3).integers(0, 256, (256, 3), dtype=np.uint8)
    indices = (gray_content() // 2).astype(np.uint8)  # 128 distinct palette entries in use
    image = Image.fromarray(indices, "P")
    image.putpalette(palette.tobytes())
    path = tmp_path / "palette.png"
    image.save(path, transparency=0) if transparent else image.save(path)
    assert Image.open(path).mode == "P"
    check_like_plain_png(classifiers, path, palette[indices])


def test_one_bit_png(classifiers, tmp_path):
    content = np.where(gray_content() > 100, 255, 0).astype(np.uint8)
    path = tmp_path / "bilevel.png"
    Image.fromarray(content).convert("1").save(path)
    assert Image.open(path).mode == "1"
    check_like_plain_png(classifiers, path, content)


def test_cmyk_jpeg(classifiers, tmp_path):
    content = rgb_content()
    path = tmp_path / "cmyk.jpg"
    Image.fromarray(content).convert("CMYK").save(path, quality=100, subsampling=0)
    assert Image.open(path).mode == "CMYK"
    check_like_plain_png(classifiers, path, content, JPEG_MEAN_ERROR, JPEG_PROBABILITY_TOLERANCE)
    inverted = 255 - content.astype(np.float64)  # what a decoder ignoring Adobe's inversion gives
    assert np.abs(np.asarray(load_image(path, "RGB")) - inverted).mean() > 50


# EXIF orientation -> the transpose that turns the displayed picture back into the stored pixels.
_STORED_AS = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


@pytest.mark.parametrize("orientation", sorted(_STORED_AS))
def test_exif_rotated_jpeg(classifiers, tmp_path, orientation):
    content = rgb_content()
    stored = Image.fromarray(content)
    if _STORED_AS[orientation] is not None:
        stored = stored.transpose(_STORED_AS[orientation])
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"orientation-{orientation}.jpg"
    stored.save(path, quality=100, subsampling=0, exif=exif)
    check_like_plain_png(classifiers, path, content, JPEG_MEAN_ERROR, JPEG_PROBABILITY_TOLERANCE)


@pytest.mark.parametrize("suffix", [".gif", ".tif"])
def test_first_frame_of_animated_gif_and_multipage_tiff(classifiers, tmp_path, suffix):
    content = gray_content()
    frames = [Image.fromarray(content), Image.fromarray(255 - content), Image.new("L", (40, 32))]
    path = tmp_path / f"frames{suffix}"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    assert getattr(Image.open(path), "n_frames", 1) == 3
    check_like_plain_png(classifiers, path, content)


@pytest.mark.parametrize("mode, value", [("L", 180), ("RGB", (200, 40, 90))])
def test_one_pixel_image(classifiers, tmp_path, mode, value):
    path = tmp_path / "dot.png"
    Image.new(mode, (1, 1), value).save(path)
    # Upscaled to the 16x16 model input, one pixel is a uniform image of its value.
    uniform = tmp_path / "uniform.png"
    Image.new(mode, (16, 16), value).save(uniform)
    for clf in classifiers.values():
        assert clf.predict(path).probabilities == pytest.approx(
            clf.predict(uniform).probabilities, abs=1e-6
        )


@pytest.mark.parametrize(
    "width, height", [(4096, 16), (16, 4096), (16_000, 1), (1, 16_000)], ids=str
)
def test_very_wide_and_very_tall_images(classifiers, tmp_path, width, height):
    # A 16x16 picture (or one row / column of it) with each pixel stretched into a block: the
    # averages of the blocks give the picture back.
    base = gray_content(16, 16)[: min(height, 16), : min(width, 16)]
    stretched = np.repeat(base, width // base.shape[1], axis=1)
    stretched = np.repeat(stretched, height // base.shape[0], axis=0)
    expected = np.ascontiguousarray(np.broadcast_to(base, (16, 16)))
    path = tmp_path / "long.png"
    Image.fromarray(stretched).save(path)
    assert Image.open(path).size == (width, height)
    area = Preprocessor(16, 16, "grayscale", "raw", "area").pixels(path)[:, :, 0]
    assert np.array_equal(area, expected)
    plain = tmp_path / "plain.png"
    Image.fromarray(expected).save(plain)
    for clf in classifiers.values():
        got, reference = clf.predict(path), clf.predict(plain)
        assert got.ok and sum(got.probabilities.values()) == pytest.approx(1.0)
        # The card's bilinear filter blurs across block edges a little; the classes stay put.
        assert got.probabilities == pytest.approx(reference.probabilities, abs=0.01)
