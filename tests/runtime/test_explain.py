"""Explanations on the device: occlusion through every engine finds evidence where it is by
construction, files and records are written, bad images are one error record, runs repeat exactly."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path
from typing import Any

import click
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import counted, opens_of, skip_unless_an_engine_reads
from PIL import Image

from edgexray import Classifier, exit_codes
from edgexray.card_resolution import CardOverrides
from edgexray.cli.main import cli, main
from edgexray.cli.options import OPTION_GROUPS
from edgexray.engines import ENGINES, available_engines
from edgexray.explain import OcclusionConfig, summarize
from edgexray.explain.agreement import rank_correlation, top_overlap
from edgexray.explain.occlusion import MODES
from edgexray.preprocessing import transform

DATA = Path(__file__).parent.parent / "data"
# Card-less models (tests/data/make_tiny_models.py): they see only the top-right 8x8 quadrant.
QUADRANT_MODELS = ("quadrant.tflite", "quadrant.int8.tflite", "quadrant.onnx")
OVERRIDES = CardOverrides(labels=("NORMAL", "PNEUMONIA"), normalize="unit")
FLAGS = ["--labels", "NORMAL,PNEUMONIA", "--normalize", "unit"]


# quadrant.onnx's Conv is 1x1 with pads [0, 8, 8, 0] (tf2onnx folds the ZeroPadding2D into it).
# OpenVINO 2026.4's CPU plugin sometimes leaves that padded region uninitialized: in 3 of 6 fresh
# processes on an AVX2-only AMD EPYC the Conv's output held values up to 1e35 and the model said
# 1.0 instead of 0.787 (ONNX Runtime and LiteRT: always 0.787). An upstream bug of that graph, not
# of the explanation under test here; no shipped model has a padded 1x1 Conv (docs/integrity.md).
ENGINE_BUGS = {("quadrant.onnx", "openvino")}


def _engines(model: str) -> list[str]:
    suffix = Path(model).suffix
    return [
        name
        for name in available_engines()
        if suffix in ENGINES[name].suffixes and (model, name) not in ENGINE_BUGS
    ]


def _image(path: Path, seed: int = 0) -> Path:
    """A noisy dark 16x16 image whose top-right quadrant is bright: PNEUMONIA for the model."""
    rng = np.random.default_rng(seed)
    pixels = rng.uniform(0.0, 0.3, (16, 16))
    pixels[:8, 8:] = rng.uniform(0.5, 0.7, (8, 8))  # not so bright that int8 saturates
    Image.fromarray(np.rint(pixels * 255).astype(np.uint8), "L").save(path)
    return path


CASES = [
    (model, engine, mode)
    for model in QUADRANT_MODELS
    for engine in _engines(model)
    for mode in MODES
]


@pytest.mark.parametrize(("model", "engine", "mode"), CASES)
def test_peak_lies_in_the_quadrant_the_model_sees(
    tmp_path: Path, model: str, engine: str, mode: str
) -> None:
    from edgexray import ClassifierOptions

    image = _image(tmp_path / "chest.png")
    options = ClassifierOptions(engine=engine, threads=1)
    with Classifier(DATA / model, options, OVERRIDES) as clf:
        explanation = clf.explain(image, config=OcclusionConfig(mode=mode))
    assert explanation.prediction.label == "PNEUMONIA"
    assert explanation.target == "PNEUMONIA"
    summary = explanation.summary
    assert summary.peak_value > 0
    assert summary.peak_y < 8 and summary.peak_x >= 8, summary
    # Evidence is concentrated where the model looks: most of it in that quadrant.
    positive = np.clip(explanation.heatmap, 0, None)
    assert positive[:8, 8:].sum() > 0.6 * positive.sum()
    assert explanation.overlay.mode == "RGB" and explanation.overlay.size == (16, 16)


def test_the_other_label_can_be_explained(tmp_path: Path) -> None:
    with Classifier(DATA / "quadrant.tflite", overrides=OVERRIDES) as clf:
        explanation = clf.explain(_image(tmp_path / "a.png"), target="NORMAL")
        with pytest.raises(ValueError, match="unknown label"):
            clf.explain(_image(tmp_path / "b.png"), target="COVID")
    assert explanation.target == "NORMAL" and explanation.prediction.label == "PNEUMONIA"
    # Evidence for NORMAL is the opposite of PNEUMONIA's: the quadrant argues against it.
    assert explanation.heatmap[:8, 8:].mean() < 0


def _run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(cli, args)
    return result.exit_code, result.output


def test_cli_writes_files_and_one_error_record_per_bad_image(tmp_path: Path) -> None:
    good = _image(tmp_path / "good.png")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a picture")
    out = tmp_path / "out"
    code, output = _run(
        ["explain", "-m", str(DATA / "quadrant.onnx"), *FLAGS, str(good), str(bad), "-o", str(out)]
    )
    assert code == 3, output
    index = [json.loads(line) for line in (out / "explanations.jsonl").read_text().splitlines()]
    assert len(index) == 2
    errors = [r for r in index if "error" in r]
    assert len(errors) == 1 and errors[0]["path"].endswith("bad.png")
    record = json.loads((out / "good.json").read_text())
    assert record["label"] == "PNEUMONIA" and record["explained"] == "PNEUMONIA"
    assert set(record["probabilities"]) == {"NORMAL", "PNEUMONIA"}
    assert record["peak_y"] < 8 <= record["peak_x"]
    assert 0 < record["fraction_above_half_peak"] <= 1
    assert np.load(out / "good.heatmap.npy").shape == (16, 16)
    assert Image.open(out / "good.overlay.png").mode == "RGB"
    assert not (out / "bad.json").exists()


def test_cli_refuses_a_label_the_model_does_not_have(tmp_path: Path) -> None:
    args = ["explain", "-m", str(DATA / "quadrant.tflite"), *FLAGS, "--class", "COVID"]
    code, output = _run([*args, str(_image(tmp_path / "a.png")), "-o", str(tmp_path / "o")])
    assert code == 2 and "COVID" in output


def test_outputs_are_deterministic(tmp_path: Path) -> None:
    image = _image(tmp_path / "chest.png", seed=3)
    runs = []
    for name in ("first", "second"):
        out = tmp_path / name
        code, output = _run(
            [
                "explain",
                "-m",
                str(DATA / "quadrant.int8.tflite"),
                *FLAGS,
                str(image),
                "-o",
                str(out),
            ]
        )
        assert code == 0, output
        runs.append(
            [
                (out / f).read_bytes()
                for f in ("chest.json", "chest.heatmap.npy", "chest.overlay.png")
            ]
        )
    assert runs[0] == runs[1]


def test_classify_explains_only_the_chosen_label(tmp_path: Path) -> None:
    bright = _image(tmp_path / "bright.png")
    dark = tmp_path / "dark.png"
    Image.fromarray(np.full((16, 16), 20, np.uint8), "L").save(dark)
    out = tmp_path / "explained"
    args = ["classify", "-m", str(DATA / "quadrant.tflite"), *FLAGS, str(bright), str(dark)]
    code, output = _run([*args, "--explain", str(out), "--explain-only", "PNEUMONIA"])
    assert code == 0, output
    assert sorted(p.name for p in out.glob("*.json")) == ["bright.json"]
    code, output = _run([*args, "--explain", str(out), "--explain-only", "COVID"])
    assert code == 2 and "COVID" in output


def test_classify_explain_reads_and_decodes_each_image_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    images = [_image(tmp_path / f"chest{i}.png", seed=i) for i in range(3)]
    opened = [opens_of(monkeypatch, image) for image in images]
    decoded = counted(monkeypatch, transform, "decode")
    out = tmp_path / "explained"
    args = ["classify", "-m", str(DATA / "quadrant.tflite"), *FLAGS, "--format", "jsonl"]
    code, output = _run([*args, *map(str, images), "--explain", str(out)])
    assert code == 0, output
    assert sorted(p.name for p in out.glob("*.overlay.png")) == [
        f"chest{i}.overlay.png" for i in range(3)
    ]
    assert [len(calls) for calls in opened] == [1, 1, 1], "an image was read more than once"
    assert len(decoded) == 3, "an image was decoded more than once"
    records = [json.loads((out / f"chest{i}.json").read_text()) for i in range(3)]
    classified = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert [r["label"] for r in records] == [r["label"] for r in classified]


def test_summary_takes_the_middle_of_a_flat_peak() -> None:
    heatmap = np.zeros((10, 10), np.float32)
    heatmap[2:5, 6:9] = 1.0
    summary = summarize(heatmap)
    assert (summary.peak_y, summary.peak_x) == (3, 7)
    assert summary.fraction_above_half_peak == pytest.approx(0.09)
    assert summarize(-np.ones((4, 4))).fraction_above_half_peak == 0.0


def test_map_agreement() -> None:
    rng = np.random.default_rng(1)
    a = rng.random((20, 20))
    assert rank_correlation(a, a) == pytest.approx(1.0)
    assert rank_correlation(a, -a) == pytest.approx(-1.0)
    assert rank_correlation(a, np.ones_like(a)) == 0.0
    assert top_overlap(a, a) == 1.0
    assert top_overlap(a, -a) == 0.0


# The floor: a map whose strongest window moves the probability less than this is no evidence. -------

REPO = Path(__file__).resolve().parents[2]
DEMO_INT8 = REPO / "models" / "demo" / "seed_cnn.tflite-int8.tflite"
FINETUNE_INT8 = REPO / "models" / "finetune" / "finetune.tflite-int8.tflite"
SAMPLES = REPO / "models" / "samples"


def _greys(image: Image.Image) -> np.ndarray:
    rgb = np.asarray(image.convert("RGB"), dtype=np.int16)
    return (rgb[..., 0] == rgb[..., 1]) & (rgb[..., 1] == rgb[..., 2])


@pytest.mark.parametrize(
    ("model", "sample"),
    [
        # The command: the seed CNN is saturated on PNEUMONIA (peak 4e-06).
        (DEMO_INT8, "binary/PNEUMONIA/PNEUMONIA_02.png"),
        # (The MobileNetV2 trained from scratch had no window carrying bilateral COVID haze, peak
        # 1e-06; the fine-tuned EfficientNet-Lite0 that replaced it finds evidence above the floor
        # on every bundled COVID sample, peaks 0.044-0.071, so the seed CNN carries this test.)
    ],
)
def test_a_map_below_the_floor_is_drawn_and_recorded_as_no_localized_evidence(
    tmp_path: Path, model: Path, sample: str
) -> None:
    skip_unless_an_engine_reads(model)
    out = tmp_path / "ex"
    code, output = _run(["explain", "-m", str(model), str(SAMPLES / sample), "-o", str(out)])
    assert code == 0, output
    stem = Path(sample).stem
    record = json.loads((out / f"{stem}.json").read_text())
    assert record["label"] == record["explained"] == Path(sample).parent.name
    assert record["peak_value"] < 0.01
    assert record["localized"] is False
    assert record["localization_floor"] == 0.01
    assert record["not_localized"].startswith("no localized evidence")
    assert record["fraction_above_half_peak"] == 0.0
    # The same record goes to stdout and to the run's index.
    assert json.loads(output.splitlines()[0])["localized"] is False
    # The overlay is the film itself: no colour, no outline (a caption band at most).
    overlay = Image.open(out / f"{stem}.overlay.png")
    assert _greys(overlay).all()
    with Classifier(model) as clf:
        film = clf.preprocessor.display(SAMPLES / sample).convert("RGB")
    same = np.all(np.asarray(overlay) == np.asarray(film), axis=-1)
    assert same.mean() > 0.9


def test_real_evidence_is_localized_and_drawn(tmp_path: Path) -> None:
    skip_unless_an_engine_reads(FINETUNE_INT8)
    with Classifier(FINETUNE_INT8) as clf:
        explanation = clf.explain(SAMPLES / "three-class" / "PNEUMONIA" / "PNEUMONIA_00.jpg")
    record = explanation.to_record()
    assert record["label"] == "PNEUMONIA" and record["peak_value"] > 0.5
    assert record["localized"] is True and "not_localized" not in record
    assert 0 < record["fraction_above_half_peak"] < 1
    assert not _greys(explanation.overlay).all()  # the colour map is drawn


@pytest.mark.parametrize(("peak", "localized"), [(0.0099, False), (0.01, True), (0.5, True)])
def test_the_floor_is_applied_to_the_peak(peak: float, localized: bool) -> None:
    heatmap = np.zeros((10, 10), np.float32)
    heatmap[2:5, 6:9] = peak
    summary = summarize(heatmap, floor=0.01)
    assert summary.localized is localized
    assert summary.peak_value == pytest.approx(peak)
    assert summary.fraction_above_half_peak == (pytest.approx(0.09) if localized else 0.0)


def test_without_a_model_explain_uses_the_demo_model_as_classify_does(tmp_path: Path) -> None:
    image = SAMPLES / "binary" / "NORMAL" / "NORMAL_02.png"
    out = tmp_path / "ex"
    explained = CliRunner().invoke(cli, ["explain", str(image), "-o", str(out)])
    classified = CliRunner().invoke(cli, ["classify", str(image), "--format", "jsonl"])
    assert explained.exit_code == classified.exit_code == 0, explained.output
    note = classified.stderr.splitlines()[0]
    assert note.startswith("edgexray: using the demo model ") and "not for clinical use" in note
    assert explained.stderr.splitlines()[0] == note
    record = json.loads((out / "NORMAL_02.json").read_text())
    assert record["label"] == json.loads(classified.stdout)["label"] == "NORMAL"
    # --keras explains a Keras model, which has no default: a usage error, not the demo model.
    keras = CliRunner().invoke(cli, ["explain", "--keras", str(image), "-o", str(out)])
    assert keras.exit_code == 2 and "--keras needs -m" in keras.output


# explain is classify plus a map: the same checks, trust policy, options and record; one read -----

EVIDENCE_FIELDS = {
    "explained",
    "method",
    "window",
    "stride",
    "engine_images",
    "peak_x",
    "peak_y",
    "peak_x_fraction",
    "peak_y_fraction",
    "peak_value",
    "fraction_above_half_peak",
    "localized",
    "localization_floor",
    "overlay",
    "heatmap",
}


def _records(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _blank(path: Path) -> Path:
    """Issue 23's frame: a flat grey 512x512 PNG, which the demo model calls NORMAL at 0.807."""
    Image.new("L", (512, 512), 128).save(path)
    return path


def test_a_frame_classify_refuses_gets_the_same_refusal_and_no_map(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EDGEXRAY_INPUT_CHECK")  # the default: strict
    blank = _blank(tmp_path / "blank.png")
    out = tmp_path / "ex"
    classified = CliRunner().invoke(cli, ["classify", str(blank), "--format", "jsonl"])
    explained = CliRunner().invoke(cli, ["explain", str(blank), "-o", str(out)])
    assert classified.exit_code == explained.exit_code == exit_codes.PARTIAL, explained.output
    (refusal,) = _records(classified.stdout)
    assert refusal["rejected"].startswith("nearly uniform frame") and "label" not in refusal
    assert _records(explained.stdout) == [refusal]
    assert _records((out / "explanations.jsonl").read_text()) == [refusal]
    assert [p.name for p in out.iterdir()] == ["explanations.jsonl"]  # no overlay, map or record
    assert "0 explained, 1 rejected, 0 failed" in explained.stderr


@pytest.mark.parametrize("mode", ["warn", "off"])
def test_warn_and_off_explain_the_frame_classify_labels(tmp_path: Path, mode: str) -> None:
    blank = _blank(tmp_path / "blank.png")
    out = tmp_path / "ex"
    check = ["--input-check", mode]
    classified = CliRunner().invoke(cli, ["classify", *check, str(blank), "--format", "jsonl"])
    explained = CliRunner().invoke(cli, ["explain", *check, str(blank), "-o", str(out)])
    assert classified.exit_code == explained.exit_code == 0, explained.output
    (expected,) = _records(classified.stdout)
    record = json.loads((out / "blank.json").read_text())
    assert {key: record.get(key) for key in expected} == expected
    assert record["input_check"]["status"] == ("warned" if mode == "warn" else "off")
    assert (out / "blank.overlay.png").is_file()


def test_the_record_is_the_classify_record_plus_the_explanation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EDGEXRAY_INPUT_CHECK")
    image = _image(tmp_path / "chest.png")
    model = ["-m", str(DATA / "quadrant.tflite"), *FLAGS]
    out = tmp_path / "ex"
    classified = CliRunner().invoke(cli, ["classify", *model, str(image), "--format", "jsonl"])
    explained = CliRunner().invoke(cli, ["explain", *model, str(image), "-o", str(out)])
    assert classified.exit_code == explained.exit_code == 0, explained.output
    (expected,) = _records(classified.stdout)
    assert expected["input_check"] == {"status": "passed"} and "sha256" in expected
    record = json.loads((out / "chest.json").read_text())
    assert {key: record.get(key) for key in expected} == expected
    assert set(record) - set(expected) == EVIDENCE_FIELDS
    assert _records(explained.stdout) == [record]


def test_an_image_is_read_and_decoded_once_per_explanation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = _image(tmp_path / "chest.png")
    opened = opens_of(monkeypatch, image)
    decoded = counted(monkeypatch, transform, "decode")
    args = ["explain", "-m", str(DATA / "quadrant.tflite"), *FLAGS, str(image)]
    code, output = _run([*args, "-o", str(tmp_path / "ex")])
    assert code == 0, output
    assert len(opened) == 1, "the image was read more than once"
    assert len(decoded) == 1, "the image was decoded more than once"


def _refusal(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[object, str]:
    """(exit code, stderr) of `edgexray ARGS` run as the entry point runs it."""
    with pytest.raises(SystemExit) as stop:
        main(args)
    return stop.value.code, capsys.readouterr().err


def test_a_trust_policy_refuses_an_unsigned_model_as_classify_does(
    carded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("cryptography")
    from edgexray.signing.keys import generate_key_pair
    from edgexray.signing.sign import sign_model

    private, public, key_id = generate_key_pair(tmp_path / "site")
    unsigned = carded("binary_gray.tflite")
    image = str(_image(tmp_path / "a.png"))
    out = tmp_path / "ex"
    commands = {"classify": ["classify"], "explain": ["explain", "-o", str(out)]}
    by_flag = {
        name: _refusal([*args, "-m", str(unsigned), "--trusted-key", str(public), image], capsys)
        for name, args in commands.items()
    }
    monkeypatch.setenv("EDGEXRAY_TRUSTED_KEYS", str(public))
    by_env = {
        name: _refusal([*args, "-m", str(unsigned), image], capsys)
        for name, args in commands.items()
    }
    for outcomes in (by_flag, by_env):
        code, message = outcomes["classify"]
        assert outcomes["explain"] == (code, message)
        assert code == exit_codes.FATAL and len(message.splitlines()) == 1
        assert "not signed" in message and str(unsigned) in message
    assert not out.exists()
    # Signed by the trusted key: explained, and the record names the signer.
    sign_model(unsigned, private)
    code, output = _run(["explain", "-m", str(unsigned), image, "-o", str(out)])
    assert code == 0, output
    assert json.loads((out / "a.json").read_text())["model"]["signer"] == key_id


def test_an_unsealed_card_runs_only_when_accepted_as_in_classify(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from test_card_integrity import downgraded

    skip_unless_an_engine_reads("binary_gray.tflite")
    model = str(downgraded(tmp_path))
    image = str(_image(tmp_path / "a.png"))
    out = tmp_path / "ex"
    classify_refusal = _refusal(["classify", "-m", model, image], capsys)
    explain_refusal = _refusal(["explain", "-m", model, image, "-o", str(out)], capsys)
    assert explain_refusal == classify_refusal
    assert classify_refusal[0] == exit_codes.FATAL and "no digest" in classify_refusal[1]
    code, output = _run(["explain", "-m", model, "--allow-unsealed-card", image, "-o", str(out)])
    assert code == 0, output
    assert json.loads((out / "a.json").read_text())["model"]["card"] == "legacy"


def test_a_trust_policy_refuses_a_keras_model_which_cannot_be_signed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keras = tmp_path / "model.keras"
    keras.write_bytes(b"not read: refused before")
    image = str(_image(tmp_path / "a.png"))
    args = ["explain", "--keras", "-m", str(keras), image, "-o", str(tmp_path / "ex")]
    code, message = _refusal([*args, "--trusted-key", str(tmp_path / "site.pub")], capsys)
    assert code == exit_codes.FATAL and len(message.splitlines()) == 1, message
    assert "cannot be signed" in message and str(keras) in message


# Which option groups (edgexray.cli.options.OPTION_GROUPS) each command that runs a model takes,
# whole. bench measures several files (-m is repeatable there) on the engines their suffixes name:
# it takes --threads, --trusted-key and the card overrides alone, the same options all the same.
COMMAND_GROUPS = {
    "classify": ("model", "engine", "input check", "trust", "dicom", "audit"),
    "watch": ("model", "engine", "input check", "trust", "dicom", "audit"),
    "serve": ("model", "engine", "input check", "trust", "dicom", "audit"),
    "explain": ("model", "engine", "input check", "trust", "dicom"),
    "bench": (),
}
BENCH_SHARED = {"threads", "trusted_keys", "labels", "normalize", "interpolation", "output_kind"}
BENCH_SHARED |= {"threshold"}


def _group_params(name: str) -> set[str | None]:
    def probe(**params: Any) -> None:
        pass

    # On a function, as on a command: a group may wrap the function (trust hands over its rules).
    return {p.name for p in click.command("probe")(OPTION_GROUPS[name](probe)).params}


def _options(command: click.Command, names: set[str | None]) -> dict[str | None, Any]:
    return {
        p.name: {**p.to_info_dict(), "callback": p.callback}
        for p in command.params
        if p.name in names
    }


def test_the_commands_that_run_a_model_share_one_declaration_of_each_option_group() -> None:
    from edgexray.cli.bench import bench
    from edgexray.cli.classify import classify
    from edgexray.cli.explain import explain
    from edgexray.cli.serve import serve
    from edgexray.cli.watch import watch

    commands = {"classify": classify, "watch": watch, "serve": serve, "explain": explain}
    commands["bench"] = bench
    shared = set().union(*(_group_params(name) for name in OPTION_GROUPS))
    reference = _options(classify, shared)
    assert set(reference) == shared
    for name, command in commands.items():
        groups = COMMAND_GROUPS[name]
        expected = set().union(*map(_group_params, groups)) if groups else BENCH_SHARED
        found = _options(command, shared)
        assert set(found) == expected, name
        assert found == {key: reference[key] for key in found}, name


@pytest.mark.parametrize("side", [16, 150, 160, 224, 256, 299, 331, 512])
@pytest.mark.parametrize("steps", [2, 3, 5, 8])
def test_steps_is_the_number_of_window_positions_on_every_side(side: int, steps: int) -> None:
    """`steps` windows per side, spread from edge to edge, whatever the input size: on 224 pixels
    the old rounded stride gave 6 positions for 5 steps (the last two 1 pixel apart), 44% more
    engine images for the same map."""
    from edgexray.explain.occlusion import _boxes

    config = OcclusionConfig(steps=steps)
    boxes = _boxes(side, side, config)
    window, _ = config.window(side)
    tops = sorted({box[0] for box in boxes})
    assert len(boxes) == steps * steps and len(tops) == steps
    assert tops[0] == 0 and tops[-1] + window == side
    assert config.engine_images(side, side) == 1 + steps * steps + 1
    # Neighbouring windows overlap, so every pixel is under one.
    assert all(b - a <= window for a, b in pairwise(tops))
