"""Decoding and preprocessing with known pixel values, per mode and normalization."""

from __future__ import annotations

import os

import numpy as np
import pytest
from conftest import counted
from PIL import Image, ImageOps

from edgexray.errors import ImageError
from edgexray.preprocessing import Preprocessor, discover_images, load_image
from edgexray.preprocessing.decode import decode, to_mode


def gray(value: int, size=(8, 6)) -> Image.Image:
    return Image.new("L", size, value)


@pytest.mark.parametrize(
    "normalize, expected",
    [
        ("unit", 51 / 255),
        ("symmetric", 51 / 127.5 - 1),
        ("raw", 51.0),
        ("imagenet", (51 / 255 - np.mean([0.485, 0.456, 0.406])) / np.mean([0.229, 0.224, 0.225])),
        ("caffe", 51 - np.mean([103.939, 116.779, 123.68])),
    ],
)
def test_grayscale_normalizations(normalize, expected):
    x = Preprocessor(4, 4, "grayscale", normalize)(gray(51))
    assert x.shape == (4, 4, 1) and x.dtype == np.float32
    np.testing.assert_allclose(x, expected, rtol=1e-6)


def test_rgb_imagenet_and_caffe_per_channel():
    image = Image.new("RGB", (3, 3), (255, 0, 51))
    x = Preprocessor(3, 3, "rgb", "imagenet")(image)
    np.testing.assert_allclose(
        x[0, 0], [(1 - 0.485) / 0.229, (0 - 0.456) / 0.224, (0.2 - 0.406) / 0.225], rtol=1e-5
    )
    caffe = Preprocessor(3, 3, "rgb", "caffe")(image)
    np.testing.assert_allclose(caffe[0, 0], [51 - 103.939, 0 - 116.779, 255 - 123.68], rtol=1e-5)


def test_rgb_to_grayscale_uses_luma_weights():
    x = Preprocessor(2, 2, "grayscale", "raw")(Image.new("RGB", (2, 2), (255, 0, 0)))
    assert x[0, 0, 0] == 76.0  # ITU-R 601-2: 0.299 * 255, as keras.utils.load_img does


def test_sixteen_bit_png_keeps_its_range(tmp_path):
    ramp = np.array([[0, 257 * 100, 65535]], dtype=np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(ramp).save(path)
    pixels = Preprocessor(1, 3, "grayscale", "raw", "nearest").pixels(path)
    assert pixels[0, :, 0].tolist() == [0, 100, 255]


def test_rgba_palette_and_cmyk_convert(tmp_path):
    rgba = Image.new("RGBA", (4, 4), (10, 20, 30, 0))
    assert Preprocessor(4, 4, "rgb", "raw").pixels(rgba)[0, 0].tolist() == [10, 20, 30]
    palette = Image.new("RGB", (4, 4), (200, 200, 200)).convert("P", palette=Image.Palette.ADAPTIVE)
    assert Preprocessor(4, 4, "grayscale", "raw").pixels(palette)[0, 0, 0] == 200
    cmyk_path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (16, 16), (0, 0, 0, 0)).save(cmyk_path, quality=95)
    assert Preprocessor(16, 16, "rgb", "raw").pixels(cmyk_path).min() >= 250  # white


def test_exif_orientation_is_applied(tmp_path):
    image = Image.new("L", (4, 2), 0)
    image.putpixel((0, 0), 255)  # top-left marker in a 4 wide x 2 high image
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    path = tmp_path / "rotated.jpg"
    image.save(path, exif=exif, quality=100)
    decoded = load_image(path, "L")
    assert decoded.size == (2, 4)  # width and height swapped
    assert np.asarray(decoded)[0, -1] > 200  # marker moved to the top-right


def test_only_an_image_whose_orientation_asks_for_it_is_transposed(tmp_path, monkeypatch):
    # exif_transpose copies every image it is given, turned or not (~3 ms of a 2500x2500 JPEG).
    turned = counted(monkeypatch, ImageOps, "exif_transpose")
    image = Image.new("L", (4, 2), 0)
    image.putpixel((0, 0), 255)
    plain, oriented = tmp_path / "plain.jpg", tmp_path / "oriented.jpg"
    image.save(plain, quality=100)
    exif = Image.Exif()
    exif[0x0112] = 6
    image.save(oriented, exif=exif, quality=100)
    assert load_image(plain, "L").size == (4, 2)
    assert decode(image, "L").image is image  # not copied
    assert turned == []
    upright = load_image(oriented, "L")
    assert len(turned) == 1
    assert upright.size == (2, 4) and np.asarray(upright)[0, -1] > 200


def test_first_frame_of_an_animated_gif(tmp_path):
    path = tmp_path / "anim.gif"
    frames = [Image.new("L", (4, 4), v) for v in (10, 200)]
    frames[0].save(path, save_all=True, append_images=frames[1:])
    assert Preprocessor(4, 4, "grayscale", "raw").pixels(path)[0, 0, 0] == 10


def test_resize_filters_differ_as_expected():
    stripes = Image.fromarray(np.tile(np.array([0, 255], dtype=np.uint8), (8, 4)))  # 8x8
    nearest = Preprocessor(4, 4, "grayscale", "raw", "nearest").pixels(stripes)
    area = Preprocessor(4, 4, "grayscale", "raw", "area").pixels(stripes)
    assert set(np.unique(nearest)) <= {0, 255}
    assert np.all(area == 128)  # box filter averages each 2x2 block


def test_numpy_inputs():
    pre = Preprocessor(2, 2, "grayscale", "raw")
    assert pre.pixels(np.full((2, 2), 7, dtype=np.uint8))[0, 0, 0] == 7
    assert pre.pixels(np.full((2, 2), 65535, dtype=np.uint16))[0, 0, 0] == 255
    with pytest.raises(ImageError, match="uint8 or uint16"):
        pre(np.zeros((2, 2), dtype=np.float64))
    with pytest.raises(ImageError, match="shape"):
        pre(np.zeros((2, 2, 5), dtype=np.uint8))


@pytest.mark.parametrize(
    "content, message",
    [(b"", "empty file"), (b"hello, world", "not an image"), (os.urandom(256), "not an image")],
)
def test_undecodable_files_raise_one_line_errors(tmp_path, content, message):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(ImageError, match=message) as info:
        load_image(path)
    assert "\n" not in str(info.value) and "bad.png" in str(info.value)


def test_truncated_png(tmp_path):
    path = tmp_path / "cut.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(ImageError, match="corrupt or truncated"):
        load_image(path)


def test_decompression_bomb_refused_from_the_header(tmp_path):
    path = tmp_path / "big.png"
    Image.new("L", (3000, 3000)).save(path)
    from edgexray.preprocessing import DecodeLimits

    with pytest.raises(ImageError, match="exceeds the limit"):
        load_image(path, "L", DecodeLimits(max_pixels=1_000_000))


def test_discovery_is_recursive_sorted_case_insensitive_and_loop_safe(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "deep").mkdir(parents=True)
    for name in ("b/2.PNG", "b/1.jpeg", "a/deep/x.TiF", "a/readme.txt", "a/y.webp"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "a" / "loop").symlink_to(tmp_path / "a")
    found = discover_images([tmp_path, tmp_path / "missing", tmp_path / "a" / "readme.txt"])
    names = [p.relative_to(tmp_path).as_posix() for p in found.files]
    assert names == ["a/deep/x.TiF", "a/y.webp", "b/1.jpeg", "b/2.PNG", "a/readme.txt"]
    assert [(p.name, why) for p, why in found.problems] == [("missing", "no such file or folder")]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert discover_images([empty]).problems[0][1] == "no images found in folder"


def test_keep_grey_leaves_grey_images_one_channel_and_colour_images_rgb():
    grey, colour = Image.new("L", (8, 8), 90), Image.new("RGB", (8, 8), (10, 200, 30))
    assert decode(grey, "RGB", keep_grey=True).image.mode == "L"
    assert decode(grey, "RGB").image.mode == "RGB"
    assert decode(colour, "RGB", keep_grey=True).image.mode == "RGB"


@pytest.mark.parametrize("mode", ["L", "LA", "1", "I;16", "F"])
def test_grey_images_for_rgb_models_give_the_pixels_of_converting_first(tmp_path, mode):
    # Resized as one channel and copied into three afterwards: must equal converting to RGB first.
    y, x = np.mgrid[0:300, 0:420]
    grey = Image.fromarray(((x * 7 + y * 3) % 256).astype(np.uint8), "L")
    image = {
        "L": grey,
        "LA": Image.merge("LA", (grey, grey)),
        "1": grey.convert("1"),
        "I;16": Image.fromarray(np.asarray(grey, np.uint16) * 257),
        "F": grey.convert("F"),
    }[mode]
    want = np.asarray(
        load_image(image, "RGB").resize((64, 48), Image.Resampling.BILINEAR), dtype=np.uint8
    )
    got = Preprocessor(48, 64, "rgb", "raw").pixels(image)
    assert got.shape == (48, 64, 3)
    assert np.array_equal(got, want)


@pytest.mark.parametrize("dtype", [np.uint16, np.int32])  # Pillow modes "I;16" and "I"
def test_sixteen_bit_grey_rounds_every_value_to_nearest(dtype):
    values = np.arange(65536, dtype=dtype).reshape(256, 256)
    got = np.asarray(to_mode(Image.fromarray(values), "L"))
    assert np.array_equal(got, np.rint(values * (255 / 65535)).astype(np.uint8))


def test_wider_than_sixteen_bit_grey_is_stretched_over_its_range():
    values = np.array([[-1000, 0, 99000]], dtype=np.int32)
    assert np.asarray(to_mode(Image.fromarray(values), "L")).tolist() == [[0, 3, 255]]
