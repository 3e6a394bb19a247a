"""Input checks: images the model cannot judge are refused (strict), flagged (warn), or let through
(off); a bundled sample radiograph passes every check."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from edgexray import Classifier, ClassifierOptions, exit_codes
from edgexray.cli.main import cli
from edgexray.demo import samples_folder
from edgexray.inputcheck import ImageCheckThresholds, check_image
from edgexray.preprocessing import Preprocessor

# Both sample sets of the repository (the wheel ships only the binary one, samples_folder()).
SAMPLE_ROOT = Path(__file__).resolve().parents[2] / "models" / "samples"
# The DICOM samples count where the [dicom] extra is installed to read them.
READS_DICOM = importlib.util.find_spec("pydicom") is not None
SAMPLES = sorted(
    p
    for p in (SAMPLE_ROOT if SAMPLE_ROOT.is_dir() else samples_folder()).rglob("*")
    if p.is_file() and (READS_DICOM or p.suffix.lower() not in (".dcm", ".dicom"))
)
PRE = Preprocessor(256, 256)


def radiograph() -> Path:
    return SAMPLES[0]


def checks_failing(source: object, pre: Preprocessor = PRE) -> set[str]:
    facts = pre.inspect(source)  # type: ignore[arg-type]
    return {finding.check for finding in check_image(facts)}


@pytest.mark.parametrize("pre", [PRE, Preprocessor(160, 160, "rgb", "symmetric")])
def test_every_bundled_sample_passes(pre):
    assert SAMPLES
    for sample in SAMPLES:
        assert checks_failing(sample, pre) == set(), sample


@pytest.mark.parametrize("level", [0, 128, 255])
def test_a_uniform_frame_is_refused(level):
    assert "uniform" in checks_failing(np.full((300, 300), level, np.uint8))


def test_a_faint_gradient_is_uniform_but_a_radiograph_is_not():
    faint = np.tile(np.linspace(120, 130, 300), (300, 1)).astype(np.uint8)
    assert "uniform" in checks_failing(faint)
    assert "uniform" not in checks_failing(radiograph())


def test_heavy_clipping_is_refused():
    pixels = np.asarray(Image.open(radiograph()).convert("L").resize((300, 300)))
    burnt = np.where(pixels > 60, 255, pixels).astype(np.uint8)
    assert "clipping" in checks_failing(burnt)


def test_noise_is_refused():
    noise = np.random.default_rng(0).integers(0, 256, (300, 300), dtype=np.uint8)
    assert "noise" in checks_failing(noise)


def test_a_colour_photograph_is_refused_even_for_a_grey_model():
    grey = np.asarray(Image.open(radiograph()).convert("L").resize((300, 300)))
    coloured = np.stack([grey, np.roll(grey, 40, axis=0), 255 - grey], axis=-1)
    assert "colour" in checks_failing(coloured)
    # The same radiograph saved as RGB (equal channels, JPEG noise) is not a photograph.
    assert "colour" not in checks_failing(np.stack([grey] * 3, axis=-1))


def test_colour_is_judged_on_the_source_not_on_the_grey_model_input(tmp_path):
    grey = np.asarray(Image.open(radiograph()).convert("L").resize((300, 300)))
    tinted = np.stack([grey, grey // 3, grey // 3], axis=-1).astype(np.uint8)
    path = tmp_path / "tinted.jpg"
    Image.fromarray(tinted, "RGB").save(path, quality=95)
    facts = PRE.inspect(path)
    assert facts.colour_sample is not None and facts.pixels.shape[-1] == 1
    assert "colour" in {f.check for f in check_image(facts)}


def test_a_tiny_image_is_refused_at_the_stated_fraction():
    limits = ImageCheckThresholds()
    side = int(256 * limits.min_side_fraction)
    grey = np.asarray(Image.open(radiograph()).convert("L"))
    small = np.asarray(Image.fromarray(grey).resize((side - 1, side - 1)))
    enough = np.asarray(Image.fromarray(grey).resize((side, side)))
    assert "tiny" in checks_failing(small)
    assert "tiny" not in checks_failing(enough)


@pytest.mark.parametrize("size", [(900, 300), (300, 900)])
def test_an_extreme_aspect_ratio_is_refused(size):
    grey = Image.open(radiograph()).convert("L").resize(size)
    assert "aspect" in checks_failing(grey)


def test_the_source_size_is_the_stored_one_even_when_decoded_at_reduced_scale(tmp_path):
    path = tmp_path / "big.jpg"
    Image.open(radiograph()).convert("L").resize((2000, 1800)).save(path, quality=90)
    facts = Preprocessor(256, 256, reducing_gap=2.0).inspect(path)
    assert facts.source_size == (2000, 1800)


def test_thresholds_are_validated():
    with pytest.raises(ValueError):
        ImageCheckThresholds(colour_share=2.0)
    with pytest.raises(ValueError):
        ImageCheckThresholds(max_aspect=0.5)
    with pytest.raises(ValueError):
        ClassifierOptions(input_check="lenient")  # type: ignore[arg-type]


# Through the API and the CLI ---------------------------------------------------------------------

BLANK = np.zeros((64, 64), np.uint8)


def test_strict_refuses_without_a_label_and_the_others_go_on(carded):
    model = carded("binary_gray.tflite")
    good = np.asarray(Image.open(radiograph()).convert("L").resize((64, 64)))
    with Classifier(model, ClassifierOptions(input_check="strict")) as clf:
        results = clf.predict_batch([good, BLANK, good], batch_size=2)
    assert [r.ok for r in results] == [True, False, True]
    refused = results[1]
    assert refused.label is None and refused.error is None
    assert refused.rejected is not None and "uniform" in refused.rejected
    record = refused.to_record()
    assert "label" not in record and record["input_check"]["status"] == "rejected"
    assert results[0].input_check.status == "passed" and results[0].label is not None


def test_warn_keeps_the_label_and_flags_it(carded):
    with Classifier(carded("binary_gray.tflite"), ClassifierOptions(input_check="warn")) as clf:
        result = clf.predict(BLANK)
    assert result.ok and result.label is not None
    assert result.input_check.status == "warned" and result.rejected is None
    assert result.to_record()["input_check"]["findings"][0]["check"] == "uniform"


def test_off_does_not_check(carded):
    with Classifier(carded("binary_gray.tflite"), ClassifierOptions(input_check="off")) as clf:
        result = clf.predict(BLANK)
    assert result.ok and result.input_check.status == "off"


def test_the_default_is_strict(carded):
    with Classifier(carded("binary_gray.tflite")) as clf:
        assert clf.predict(BLANK).rejected is not None


def test_classify_exits_3_with_a_rejected_record(carded, tmp_path, monkeypatch):
    monkeypatch.delenv("EDGEXRAY_INPUT_CHECK")
    folder = tmp_path / "in"
    folder.mkdir()
    Image.open(radiograph()).convert("L").resize((64, 64)).save(folder / "chest.png")
    Image.fromarray(BLANK).save(folder / "blank.png")
    args = ["classify", "-m", str(carded("binary_gray.tflite")), "--format", "jsonl", str(folder)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == exit_codes.PARTIAL, result.output
    records = {Path(r["path"]).name: r for r in map(json.loads, result.stdout.splitlines())}
    assert "rejected" in records["blank.png"] and "label" not in records["blank.png"]
    assert (
        records["chest.png"]["label"] and records["chest.png"]["input_check"]["status"] == "passed"
    )
    assert "1 classified, 1 rejected, 0 failed" in result.stderr
    warned = CliRunner().invoke(cli, [*args, "--input-check", "warn"])
    assert warned.exit_code == exit_codes.OK
    assert all("label" in json.loads(line) for line in warned.stdout.splitlines())


def test_a_page_of_text_is_refused_as_a_flat_background():
    from PIL import ImageDraw

    page = Image.new("L", (400, 500), 240)
    draw = ImageDraw.Draw(page)
    for row in range(20, 480, 30):
        draw.text((10, row), "chest radiograph report: no acute findings", fill=0)
    assert "flat" in checks_failing(page)


# The structure band: a radiograph has bones and borders at 64 px; a gradient has none, text and
# noise have edges everywhere ------------------------------------------------------------------------


def _ramp(radial: bool) -> np.ndarray:
    y, x = np.mgrid[0:400, 0:360].astype(np.float32)
    t = np.hypot(x - 90, y - 300) if radial else x * 0.6 + y * 0.8
    return (30 + 200 * t / t.max()).astype(np.uint8)


@pytest.mark.parametrize("pre", [PRE, Preprocessor(160, 160, "rgb", "symmetric")])
@pytest.mark.parametrize("radial", [False, True])
def test_a_smooth_gradient_is_refused_for_its_missing_structure(pre, radial):
    assert checks_failing(_ramp(radial), pre) == {"smooth"}


def test_a_page_of_text_has_edges_everywhere():
    from PIL import ImageDraw

    page = Image.new("L", (400, 500), 20)  # white on a dark, uneven page: not flat
    page.paste(Image.fromarray(_ramp(False)).resize((400, 500)).point(lambda v: v // 3))
    draw = ImageDraw.Draw(page)
    for row in range(10, 490, 16):
        draw.text((5, row), "CHEST PA ERECT  R  12/2026  no acute findings  " * 2, fill=255)
    assert "busy" in checks_failing(page)


@pytest.mark.parametrize("pre", [PRE, Preprocessor(160, 160, "rgb", "symmetric")])
def test_chest_radiographs_from_the_synthetic_generator_pass_every_check(pre):
    from edgexray_export.data.synthetic import THREE_CLASSES, SynthConfig, generate_image

    config = SynthConfig(classes=THREE_CLASSES, seed=31, min_side=400, max_side=900)
    for name in THREE_CLASSES:
        for index in range(4):
            pixels = generate_image(name, index, config).pixels
            image = np.rint(pixels * 255).astype(np.uint8)
            assert checks_failing(image, pre) == set(), (name, index)


def test_the_structure_band_is_validated():
    with pytest.raises(ValueError, match="min_structure"):
        ImageCheckThresholds(min_structure=0.9, max_structure=0.5)
