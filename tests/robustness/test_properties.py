"""Property-based tests of preprocessing, and fuzzing of the decode path with random and mutated
bytes: the result is always a model input of the right shape and range, or an ImageError."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from robustness_support import carded_copy

from edgexray import Classifier, ClassifierOptions
from edgexray.card import NORMALIZATIONS
from edgexray.errors import ImageError
from edgexray.preprocessing import Preprocessor, load_image

# Pillow warns about corrupt TIFF/EXIF metadata and large images; the outcome is what is tested.
pytestmark = [
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning"),
]

PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
FUZZ_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

MODES = ["L", "LA", "RGB", "RGBA", "P", "I;16", "CMYK", "1"]
# Where each mode can be stored losslessly, to also go through the file decoders.
FILE_FORMAT = {"CMYK": "TIFF", "I;16": "PNG"}

_IMAGENET_MEAN, _IMAGENET_STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
_CAFFE_MEAN = np.array([103.939, 116.779, 123.68])


def value_range(normalize: str, channels: int) -> tuple[float, float]:
    """The smallest and largest model input a 0..255 pixel can give under `normalize`."""
    mean, std = _IMAGENET_MEAN, _IMAGENET_STD
    caffe = _CAFFE_MEAN
    if channels == 1:
        mean, std, caffe = (
            mean.mean(keepdims=True),
            std.mean(keepdims=True),
            caffe.mean(keepdims=True),
        )
    return {
        "unit": (0.0, 1.0),
        "symmetric": (-1.0, 1.0),
        "raw": (0.0, 255.0),
        "imagenet": (float(np.min(-mean / std)), float(np.max((1 - mean) / std))),
        "caffe": (float(np.min(-caffe)), float(np.max(255 - caffe))),
    }[normalize]


def random_image(mode: str, width: int, height: int, seed: int) -> Image.Image:
    """An image of `mode` with random pixel bytes (and a random palette for "P")."""
    size = len(Image.new(mode, (width, height)).tobytes())
    data = np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes()
    image = Image.frombytes(mode, (width, height), data)
    if mode == "P":
        palette = np.random.default_rng(seed + 1).integers(0, 256, 768, dtype=np.uint8)
        image.putpalette(palette.tobytes())
    return image


def check_model_input(x: np.ndarray, pre: Preprocessor) -> None:
    assert x.shape == (pre.height, pre.width, pre.channels)
    assert x.dtype == np.float32 and np.all(np.isfinite(x))
    low, high = value_range(pre.normalize, pre.channels)
    assert x.min() >= low - 1e-4 and x.max() <= high + 1e-4


preprocessors = st.builds(
    Preprocessor,
    height=st.integers(1, 64),
    width=st.integers(1, 64),
    color_mode=st.sampled_from(["grayscale", "rgb"]),
    normalize=st.sampled_from(NORMALIZATIONS),
    interpolation=st.sampled_from(["nearest", "bilinear", "bicubic", "area"]),
)
sides = st.integers(1, 300)
images = st.builds(
    random_image,
    mode=st.sampled_from(MODES),
    width=sides,
    height=sides,
    seed=st.integers(0, 2**16),
)


@PROPERTY_SETTINGS
@given(pre=preprocessors, image=images)
def test_any_pillow_image_becomes_a_valid_model_input(pre, image):
    check_model_input(pre(image), pre)


@PROPERTY_SETTINGS
@given(pre=preprocessors, image=images)
def test_any_saved_image_file_becomes_a_valid_model_input(pre, image):
    file_format = FILE_FORMAT.get(image.mode, "PNG")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, f"image.{file_format.lower()}")
        image.save(path, file_format)
        x, from_file = pre(path), pre.pixels(path)
    check_model_input(x, pre)
    # Every mode here is stored losslessly: the file gives exactly the in-memory image's input.
    assert np.array_equal(from_file, pre.pixels(image))


SUPPORTED_DTYPES = [np.uint8, np.uint16, np.bool_]
OTHER_DTYPES = [
    np.int8,
    np.int16,
    np.int32,
    np.int64,
    np.uint32,
    np.float16,
    np.float32,
    np.float64,
]


@PROPERTY_SETTINGS
@given(
    pre=preprocessors,
    dtype=st.sampled_from(SUPPORTED_DTYPES + OTHER_DTYPES),
    channels=st.sampled_from([None, 1, 2, 3, 4, 5]),
    width=sides,
    height=sides,
    seed=st.integers(0, 2**16),
)
def test_numpy_inputs_are_valid_model_inputs_or_image_errors(
    pre, dtype, channels, width, height, seed
):
    shape = (height, width) if channels is None else (height, width, channels)
    rng = np.random.default_rng(seed)
    array = rng.random(shape) * (np.iinfo(dtype).max if dtype in (np.uint8, np.uint16) else 2)
    array = array.astype(dtype)
    if dtype in SUPPORTED_DTYPES and channels in (None, 1, 3, 4):
        check_model_input(pre(array), pre)
    else:
        with pytest.raises(ImageError):
            pre(array)


# Fuzzing the decode path ---------------------------------------------------------------------------


def _seed_files() -> dict[str, bytes]:
    """Small valid files in every decoded format (and a few others), to be mutated."""
    pixels = np.random.default_rng(0).integers(0, 256, (20, 24, 3), dtype=np.uint8)
    image = Image.fromarray(pixels)
    seeds = {}
    for name, file_format, options in (
        ("png", "PNG", {}),
        ("jpeg", "JPEG", {"quality": 80}),
        ("gif", "GIF", {"save_all": True, "append_images": [image.rotate(90)]}),
        ("tiff", "TIFF", {"compression": "tiff_lzw"}),
        ("bmp", "BMP", {}),
        ("webp", "WEBP", {}),
        # Formats the runtime refuses unparsed; mutated, they must still end as ImageError.
        ("ppm", "PPM", {}),
        ("tga", "TGA", {}),
        ("ico", "ICO", {}),
    ):
        buffer = io.BytesIO()
        image.save(buffer, file_format, **options)
        seeds[name] = buffer.getvalue()
    deep = io.BytesIO()
    Image.fromarray(pixels[:, :, 0].astype(np.uint16) * 257).save(deep, "PNG")
    seeds["png16"] = deep.getvalue()
    return seeds


SEEDS = _seed_files()


@st.composite
def mutated_files(draw: st.DrawFn) -> bytes:
    """A valid file with a few bytes overwritten, removed or inserted, and maybe truncated."""
    data = bytearray(SEEDS[draw(st.sampled_from(sorted(SEEDS)))])
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data) - 1))
        kind = draw(st.sampled_from(["overwrite", "delete", "insert"]))
        if kind == "overwrite":
            data[at] = draw(st.integers(0, 255))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 32))]
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        if not data:
            break
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


def decodes_or_raises_image_error(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, f"fuzz{suffix}")
        path.write_bytes(data)
        for mode in ("L", "RGB"):
            try:
                image = load_image(path, mode)
            except ImageError as error:
                message = str(error)
                assert message.startswith(f"{path}: ") and "\n" not in message
            else:
                assert image.mode == mode and image.width >= 1 and image.height >= 1


@FUZZ_SETTINGS
@given(data=st.binary(max_size=2048), suffix=st.sampled_from([".png", ".jpg", ".tif", ".bin"]))
def test_random_bytes_decode_or_raise_image_error(data, suffix):
    decodes_or_raises_image_error(data, suffix)


@settings(FUZZ_SETTINGS, max_examples=1000)
@given(data=mutated_files())
def test_mutated_valid_files_decode_or_raise_image_error(data):
    decodes_or_raises_image_error(data, ".img")


@pytest.fixture(scope="module")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> Classifier:
    return Classifier(
        carded_copy(tmp_path_factory, "three_rgb.onnx"), ClassifierOptions(input_check="off")
    )


@settings(FUZZ_SETTINGS, max_examples=40)
@given(files=st.lists(st.one_of(mutated_files(), st.binary(max_size=512)), min_size=1, max_size=8))
def test_a_batch_of_fuzzed_files_gives_one_record_each(classifier, files):
    with tempfile.TemporaryDirectory() as folder:
        paths = [Path(folder, f"{i}.png") for i in range(len(files))]
        for path, data in zip(paths, files, strict=True):
            path.write_bytes(data)
        good = Path(folder, "good.png")
        Image.new("RGB", (20, 20), (10, 200, 30)).save(good)
        results = classifier.predict_batch([*paths, good], batch_size=3)
    assert [r.path for r in results] == [str(p) for p in (*paths, good)]
    for result in results:
        if result.ok:
            assert sum(result.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
        else:
            assert result.error.startswith(f"{result.path}: ")
    assert results[-1].ok
