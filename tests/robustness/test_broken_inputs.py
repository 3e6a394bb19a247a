"""Broken inputs: each one becomes one error naming the file and the cause; the others are classified.

(Empty, text and random-bytes files, a truncated PNG, a symlink loop inside a folder and an empty
folder are covered in tests/runtime.)
"""

from __future__ import annotations

import builtins
import csv
import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from robustness_support import carded_copy, jsonl_records, run_edgexray

from edgexray import Classifier, ClassifierOptions, exit_codes
from edgexray.cli.main import cli
from edgexray.errors import ImageError
from edgexray.preprocessing import discover_images, load_image


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return carded_copy(tmp_path_factory, "binary_gray.onnx")


def save_gray(path: Path | bytes, value: int = 100) -> Path | bytes:
    Image.new("L", (24, 20), value).save(
        path if isinstance(path, Path) else os.fsdecode(path), "PNG"
    )
    return path


def noise_jpeg(path: Path) -> bytes:
    pixels = np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8)
    Image.fromarray(pixels).save(path, quality=90)
    return path.read_bytes()


@pytest.mark.parametrize("keep", [0.5, 0.9, 200])
def test_truncated_jpeg_is_an_image_error_naming_the_file(tmp_path, keep):
    path = tmp_path / "cut.jpg"
    data = noise_jpeg(path)
    path.write_bytes(data[: int(len(data) * keep) if keep < 1 else keep])
    with pytest.raises(ImageError, match=r"cut\.jpg: .*truncated") as info:
        load_image(path)
    assert "\n" not in str(info.value)


def test_truncated_jpeg_among_good_files_in_a_batch(model, tmp_path):
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(noise_jpeg(cut)[:400])
    good = [save_gray(tmp_path / f"{i}.png", 50 * i) for i in range(3)]
    results = Classifier(model, ClassifierOptions(input_check="off")).predict_batch(
        [good[0], cut, good[1], good[2]], batch_size=2
    )
    assert [r.ok for r in results] == [True, False, True, True]
    assert "cut.jpg" in results[1].error and "truncated" in results[1].error
    assert [r.path for r in results] == [str(p) for p in (good[0], cut, good[1], good[2])]


def test_a_path_that_does_not_exist(model, tmp_path):
    good = save_gray(tmp_path / "good.png")
    missing = tmp_path / "no such.png"
    results = Classifier(model, ClassifierOptions(input_check="off")).predict_batch([missing, good])
    assert results[0].error == f"{missing}: file not found" and results[1].ok
    run = run_edgexray("classify", "-m", model, "--format", "jsonl", missing, good)
    assert run.returncode == exit_codes.PARTIAL
    first, second = jsonl_records(run.stdout)
    assert first.pop("model")["file"] == Path(model).name  # an error is a decision of this model
    assert first == {"path": str(missing), "error": f"{missing}: no such file or folder"}
    assert second["path"] == str(good) and second["label"] in ("NORMAL", "PNEUMONIA")
    assert b"1 classified, 1 failed" in run.stderr


def _refuse_to_open(monkeypatch: pytest.MonkeyPatch, locked: Path) -> None:
    """What a file without read permission does, also when the tests run as root (where chmod 000
    does not stop reading)."""
    real_open, real_os_open = builtins.open, os.open

    def refuse(file: object) -> None:
        if isinstance(file, (str, os.PathLike)) and os.fspath(file) == os.fspath(locked):
            raise PermissionError(13, "Permission denied", os.fspath(file))

    def guarded_open(file, *args, **kwargs):
        refuse(file)
        return real_open(file, *args, **kwargs)

    def guarded_os_open(file, *args, **kwargs):  # how edgexray reads an input (read_input)
        refuse(file)
        return real_os_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(os, "open", guarded_os_open)


def test_an_unreadable_file_simulated(model, tmp_path, monkeypatch):
    locked = save_gray(tmp_path / "locked.png")
    good = save_gray(tmp_path / "good.png")
    clf = Classifier(model, ClassifierOptions(input_check="off"))
    _refuse_to_open(monkeypatch, locked)
    results = clf.predict_batch([locked, good])
    assert results[0].error == f"{locked}: permission denied"
    assert results[1].ok


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0,
    reason="running as root: chmod 000 does not stop root from reading (simulated test covers it)",
)
def test_an_unreadable_file_for_real(model, tmp_path):
    locked = save_gray(tmp_path / "locked.png")
    good = save_gray(tmp_path / "good.png")
    locked.chmod(0)
    try:
        run = run_edgexray("classify", "-m", model, "--format", "jsonl", tmp_path)
    finally:
        locked.chmod(0o644)
    assert run.returncode == exit_codes.PARTIAL
    records = {r["path"]: r for r in jsonl_records(run.stdout)}
    assert records[str(locked)]["error"] == f"{locked}: permission denied"
    assert records[str(good)]["label"] in ("NORMAL", "PNEUMONIA")


def test_an_unreadable_folder_is_reported_not_skipped_silently(tmp_path, monkeypatch):
    (tmp_path / "open").mkdir()
    save_gray(tmp_path / "open" / "a.png")
    (tmp_path / "closed").mkdir()
    save_gray(tmp_path / "closed" / "b.png")
    real_scandir = os.scandir

    def guarded_scandir(path="."):
        if os.fspath(path).endswith("closed"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", guarded_scandir)
    found = discover_images([tmp_path])
    assert found.files == [tmp_path / "open" / "a.png"]
    assert found.problems == [(tmp_path / "closed", "cannot list folder: Permission denied")]


def test_symlink_loop_and_dangling_link_given_as_files(model, tmp_path):
    (tmp_path / "a.png").symlink_to(tmp_path / "b.png")
    (tmp_path / "b.png").symlink_to(tmp_path / "a.png")
    (tmp_path / "dangling.png").symlink_to(tmp_path / "gone.png")
    good = save_gray(tmp_path / "good.png")
    paths = [tmp_path / "a.png", tmp_path / "dangling.png", good]
    found = discover_images(paths)
    assert found.files == paths and not found.problems
    results = Classifier(model, ClassifierOptions(input_check="off")).predict_batch(found.files)
    assert results[0].error.startswith(f"{tmp_path / 'a.png'}: cannot read")
    assert "symbolic links" in results[0].error
    assert results[1].error == f"{tmp_path / 'dangling.png'}: file not found"
    assert results[2].ok


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this system")
def test_a_named_pipe_with_an_image_name_does_not_hang_the_run(model, tmp_path):
    # Opening a pipe blocks until something writes to it: the run would wait forever.
    os.mkfifo(tmp_path / "pipe.png")
    good = save_gray(tmp_path / "good.png")
    run = run_edgexray("classify", "-m", model, "--format", "jsonl", tmp_path)  # has a timeout
    assert run.returncode == exit_codes.PARTIAL
    classified, pipe = jsonl_records(run.stdout)  # sorted by name
    assert (
        pipe["error"] == f"{tmp_path / 'pipe.png'}: not a regular file (a pipe, socket or device)"
    )
    assert classified["path"] == str(good) and classified["label"] in ("NORMAL", "PNEUMONIA")


def test_a_file_that_disappears_between_discovery_and_decoding(model, tmp_path):
    for i in range(4):
        save_gray(tmp_path / f"{i}.png", 60 * i)
    found = discover_images([tmp_path])
    (tmp_path / "2.png").unlink()
    results = Classifier(model, ClassifierOptions(input_check="off")).predict_batch(
        found.files, batch_size=2
    )
    assert [r.ok for r in results] == [True, True, False, True]
    assert results[2].error == f"{tmp_path / '2.png'}: file not found"


def test_a_file_that_disappears_during_a_cli_run(model, tmp_path, monkeypatch):
    import edgexray.cli.classify as classify_module

    for i in range(3):
        save_gray(tmp_path / f"{i}.png", 60 * i)

    def discover_then_lose_one(paths):
        found = discover_images(paths)
        (tmp_path / "1.png").unlink()
        return found

    monkeypatch.setattr(classify_module, "discover_images", discover_then_lose_one)
    result = CliRunner().invoke(
        cli, ["classify", "-m", str(model), "--format", "csv", str(tmp_path)]
    )
    assert result.exit_code == exit_codes.PARTIAL
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [bool(r["error"]) for r in rows] == [False, True, False]
    assert rows[1]["error"] == f"{tmp_path / '1.png'}: file not found"
    assert "2 classified, 1 failed" in result.stderr


NOT_AN_IMAGE = "not an image in a supported format (PNG, JPEG, BMP, TIFF, GIF, WebP)"
NAMES = [b"with space.png", "unicodé 肺 x-ray.png".encode(), b"latin1-\xe9\xff.png"]


@pytest.mark.parametrize("output_format", ["jsonl", "csv", "json", "table"])
def test_names_with_spaces_unicode_and_non_utf8_bytes(model, tmp_path, output_format):
    folder = os.fsencode(tmp_path)
    for name in NAMES:
        save_gray(folder + b"/" + name)
    broken = folder + b"/broken-\xff.png"
    with open(broken, "wb") as handle:
        handle.write(b"not an image")
    out = tmp_path / f"results.{output_format}"
    # The broken file is also given by name, as raw bytes on the command line.
    run = run_edgexray(
        "classify", "-m", model, "--format", output_format, "-o", out, folder, broken
    )
    assert run.returncode == exit_codes.PARTIAL, run.stderr
    assert b"Traceback" not in run.stderr and b"3 classified, 2 failed" in run.stderr
    text = out.read_bytes().decode("utf-8")  # strict: the file is valid UTF-8
    shown = ["with space.png", "unicodé 肺 x-ray.png", "latin1-\\xe9\\xff.png"]
    if output_format == "table":
        assert all(name in text for name in shown)
        assert text.count("ERROR: ") == 2 and "broken-\\xff.png: not an image" in text
        return
    records = {
        "jsonl": lambda: [json.loads(line) for line in text.splitlines()],
        "json": lambda: json.loads(text),
        "csv": lambda: list(csv.DictReader(io.StringIO(text))),
    }[output_format]()
    assert len(records) == 5
    by_name = {Path(r["path"]).name: r for r in records}
    assert set(by_name) == {*shown, "broken-\\xff.png"}
    for name in shown:
        assert not by_name[name].get("error")
    errors = [r for r in records if r.get("error")]
    assert len(errors) == 2 and {Path(r["path"]).name for r in errors} == {"broken-\\xff.png"}
    for record in errors:
        assert record["error"] == f"{record['path']}: {NOT_AN_IMAGE}"


def test_control_characters_in_names_keep_records_and_errors_on_one_line(model, tmp_path):
    (tmp_path / "two\nlines.png").write_bytes(b"")
    save_gray(tmp_path / "tab\there.png")
    for output_format in ("jsonl", "table", "csv"):
        run = run_edgexray("classify", "-m", model, "--format", output_format, tmp_path)
        lines = run.stdout.decode("utf-8").splitlines()
        assert len(lines) == 2 + (output_format != "jsonl")  # header + one line per file
        if output_format == "jsonl":  # JSON escapes the backslashes once more
            lines = [f"{r['path']} {r.get('error', '')}" for r in jsonl_records(run.stdout)]
        assert any("two\\x0alines.png: empty file" in line for line in lines)
        assert any("tab\\x09here.png" in line for line in lines)


def test_non_utf8_name_in_an_api_error_is_printable(tmp_path):
    path = os.fsencode(tmp_path) + b"/bad-\xff.png"
    with open(path, "wb") as handle:
        handle.write(b"")
    with pytest.raises(ImageError) as info:
        load_image(os.fsdecode(path))
    message = str(info.value)
    message.encode("utf-8")  # no lone surrogates: printable and writable anywhere
    assert message.endswith("bad-\\xff.png: empty file")


@pytest.mark.parametrize("mode", ["LAB", "La", "HSV", "I", "F"])
@pytest.mark.parametrize("target", ["L", "RGB"])
def test_in_memory_images_in_unusual_pillow_modes_convert(mode, target):
    image = Image.new(mode, (5, 4))
    decoded = load_image(image, target)
    assert decoded.mode == target and decoded.size == (5, 4)


@pytest.mark.parametrize(
    "name, data",
    [
        (
            "broken-header.ppm",
            b"P6\n2\xf3 24\n255\n" + bytes(64),
        ),  # Pillow's PPM parser: ValueError
        ("vector.eps", b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"),
    ],
)
def test_files_in_formats_the_runtime_does_not_decode_are_refused_unparsed(tmp_path, name, data):
    # EPS would be rendered by Ghostscript, a PPM header can raise ValueError: neither parser runs.
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ImageError) as info:
        load_image(path)
    assert str(info.value) == f"{path}: {NOT_AN_IMAGE}"
