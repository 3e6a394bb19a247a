"""`edgexray bench --sweep`: every file on every installed engine that reads it, at each thread count,
each in its own process; the recommendation is the fastest row that keeps the floor, and the written
edgexray.toml runs that deployment."""

from __future__ import annotations

import json
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

import pytest
from bench_images import labelled_noise_images
from click.testing import CliRunner
from test_bench_cli import LABELS, models, save_reference_from

from edgexray.bench.deployment import Deployment
from edgexray.bench.sweep import engines_reading, plan_sweep
from edgexray.card import ModelCard
from edgexray.cli.main import cli
from edgexray.engines import available_engines

CARD = ModelCard(LABELS, "binary", 16, 16, 1, "unit", name="tiny")


def test_plan_has_every_engine_that_reads_a_file_times_every_thread_count() -> None:
    models = [Path("m.tflite-int8.tflite"), Path("m.onnx-int8.onnx")]
    cards = [CARD.replace(variant="tflite-int8"), CARD.replace(variant="onnx-int8")]
    installed = ["litert", "onnxruntime", "openvino"]
    points = plan_sweep(models, cards, installed, max_threads=3)
    assert [p.spec.name for p in points] == [
        "tflite-int8 litert 1t", "tflite-int8 litert 2t", "tflite-int8 litert 3t",
        "onnx-int8 onnxruntime 1t", "onnx-int8 onnxruntime 2t", "onnx-int8 onnxruntime 3t",
        "onnx-int8 openvino 1t", "onnx-int8 openvino 2t", "onnx-int8 openvino 3t",
    ]  # fmt: skip
    assert points[4].deployment == Deployment(models[1], "onnxruntime", 2)
    assert points[4].spec.factory == "edgexray.bench.pinned_subjects:OnONNXRuntime"
    assert engines_reading(models[1], ["litert", "onnxruntime"]) == ["onnxruntime"]
    two_models = [Path("a.tflite"), Path("b.tflite")]
    same_variant = plan_sweep(two_models, cards[:1] * 2, installed, max_threads=1)
    # The file names tell apart two models of the same variant.
    assert [p.spec.name for p in same_variant] == ["a.tflite litert 1t", "b.tflite litert 1t"]


def test_plan_adds_each_offered_reduced_precision_on_the_engines_that_run_it() -> None:
    models = [Path("m.tflite-fp32.tflite"), Path("m.onnx-fp32.onnx")]
    cards = [CARD.replace(variant="tflite-fp32"), CARD.replace(variant="onnx-fp32")]
    installed = ["litert", "onnxruntime", "openvino"]
    points = plan_sweep(models, cards, installed, 1, precisions=("f32", "bf16"))
    assert [p.spec.name for p in points] == [
        "tflite-fp32 litert 1t",
        "onnx-fp32 onnxruntime 1t",
        "onnx-fp32 openvino 1t",
        "onnx-fp32 openvino 1t bf16",
    ]
    bf16 = points[-1]
    assert bf16.deployment == Deployment(models[1], "openvino", 1, "bf16")
    assert bf16.spec.factory == "edgexray.bench.pinned_subjects:OnOpenVINOBF16"
    assert bf16.deployment.arguments()[-2:] == ["--precision", "bf16"]
    # A CPU that offers f32 only gets the exact rows alone.
    assert len(plan_sweep(models, cards, installed, 1)) == 3


def test_deployment_command_and_checks() -> None:
    command = Deployment(Path("/m/x y.onnx"), "openvino", 2).command()
    assert command == "edgexray classify -m '/m/x y.onnx' --engine openvino --threads 2"
    with pytest.raises(ValueError, match="threads"):
        Deployment(Path("a.onnx"), "openvino", 0)
    with pytest.raises(ValueError, match="engine"):
        Deployment(Path("a.onnx"), "tensorrt", 1)
    with pytest.raises(ValueError, match="litert engine does not run bf16"):
        Deployment(Path("a.tflite"), "litert", 1, "bf16")
    with pytest.raises(ValueError, match="precision must be one of"):
        Deployment(Path("a.onnx"), "openvino", 1, "int4")


def test_sweep_recommends_the_fastest_row_at_the_floor_and_writes_a_deployment_that_runs(
    models: list[Path], tmp_path: Path
) -> None:
    data = labelled_noise_images(tmp_path / "data", LABELS, 3, (24, 20), seed=5)
    save_reference_from(models[0], data)  # the tflite-fp32 copy, as export would
    models = models[1:]  # onnx-fp32 and tflite-int8
    out, config = tmp_path / "sweep.json", tmp_path / "edgexray.toml"
    args = [
        "bench",
        "--sweep",
        "--data",
        str(data),
        "--runs",
        "3",
        "--warmup",
        "1",
        "--threads",
        "2",
    ]
    args += [
        "--batch-sizes",
        "1",
        "--recommend",
        "0.5",
        "--json",
        str(out),
        "--write-config",
        str(config),
    ]
    for model in models:
        args += ["-m", str(model)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    engines = available_engines()
    expected = [
        f"{variant} {engine} {threads}t"
        for model, variant in zip(models, ("onnx-fp32", "tflite-int8"), strict=True)
        for engine in engines_reading(model, engines)
        for threads in (1, 2)
    ]
    rows = {row["name"]: row for row in report["results"]}
    assert list(rows) == expected
    assert all(row["error"] is None and row["parity_images"] == 6 for row in rows.values())
    passing = [r for r in rows.values() if r["agreement"] >= 0.5]
    fastest = min(passing, key=lambda r: r["latency_ms"]["p50"])
    assert report["recommendation"]["name"] == fastest["name"]
    chosen = report["deployments"][fastest["name"]]
    with config.open("rb") as stream:
        written = tomllib.load(stream)
    assert written == {
        "model": str(Path(chosen["path"]).resolve()),
        "engine": chosen["engine"],
        "threads": chosen["threads"],
        "precision": chosen["precision"],
    }
    assert f"--engine {chosen['engine']} --threads {chosen['threads']}" in result.output
    # classify reads the written configuration and runs the recommended deployment.
    records = tmp_path / "records.json"
    classified = CliRunner(env={"EDGEXRAY_CONFIG": str(config)}).invoke(
        cli, ["classify", str(data), "--format", "json", "-o", str(records)]
    )
    assert classified.exit_code == 0, classified.output
    assert len(json.loads(records.read_text())) == 6


__all__ = ["models"]  # the fixture, shared with test_bench_cli


def test_write_config_needs_sweep_and_recommend(models: list[Path], tmp_path: Path) -> None:
    args = ["bench", "-m", str(models[0]), "--data", str(tmp_path), "--write-config", "x.txt"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and "--write-config needs --sweep and --recommend" in result.output


def test_sweep_without_a_reference_compares_with_the_fp32_variant_as_plain_bench_does(
    models: list[Path], tmp_path: Path
) -> None:
    # The device's own images, which no saved reference covers: the fp32 file stands in.
    data = labelled_noise_images(tmp_path / "data", LABELS, 2, (24, 20), seed=7)
    out, config = tmp_path / "sweep.json", tmp_path / "s.toml"
    args = ["bench", "--sweep", "--data", str(data), "--runs", "2", "--warmup", "0"]
    args += ["--batch-sizes", "1", "--threads", "1", "--json", str(out)]
    args += ["--recommend", "0.5", "--write-config", str(config)]
    args += ["-m", str(models[0]), "-m", str(models[2])]  # tflite-fp32, tflite-int8
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["comparison"]["against"] == "tflite-fp32 litert 1t"
    assert report["comparison"]["stand_in"] and report["comparison"]["source"] == str(models[0])
    rows = {row["name"]: row for row in report["results"]}
    assert rows["tflite-fp32 litert 1t"]["agreement"] == 1.0
    assert rows["tflite-int8 litert 1t"]["agreement"] is not None
    assert report["recommendation"]["name"] in rows
    assert "recommended for >= 50% agreement vs tflite-fp32 litert 1t" in result.output
    chosen = report["deployments"][report["recommendation"]["name"]]
    with config.open("rb") as stream:
        assert tomllib.load(stream) == {
            "model": str(Path(chosen["path"]).resolve()),
            "engine": "litert",
            "threads": 1,
            "precision": "f32",
        }


@pytest.mark.parametrize("sweep", [True, False])
def test_recommend_with_nothing_to_compare_with_fails_in_one_line_and_writes_nothing(
    sweep: bool, models: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from edgexray import exit_codes
    from edgexray.cli.main import main

    data = labelled_noise_images(tmp_path / "data", LABELS, 2, (24, 20), seed=7)
    config = tmp_path / "s.toml"
    argv = ["bench", "-m", str(models[2]), "--data", str(data), "--recommend", "0.995"]
    argv += ["--sweep", "--write-config", str(config)] if sweep else []
    with pytest.raises(SystemExit) as stop:
        main(argv)
    captured = capsys.readouterr()
    assert stop.value.code == exit_codes.FATAL, captured
    (line,) = captured.err.strip().splitlines()
    assert line.startswith("edgexray: error: --recommend has nothing to measure agreement against")
    assert "fp32" in line and not config.exists()
    assert "measuring" not in captured.err  # refused before anything was measured


def test_write_config_with_no_row_at_the_floor_fails_and_writes_nothing(
    models: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from edgexray import exit_codes
    from edgexray.cli.main import main
    from edgexray.reference import read_reference, write_reference

    data = labelled_noise_images(tmp_path / "data", LABELS, 2, (24, 20), seed=7)
    saved = read_reference(save_reference_from(models[0], data))
    # A full model that disagrees with every variant on every image.
    write_reference(
        models[0].parent / "tiny.reference.json",
        saved.__class__(saved.labels, saved.images, saved.probabilities[:, ::-1].copy()),
    )
    config = tmp_path / "s.toml"
    argv = ["bench", "--sweep", "-m", str(models[2]), "--data", str(data), "--threads", "1"]
    argv += ["--runs", "1", "--warmup", "0", "--batch-sizes", "1"]
    argv += ["--recommend", "0.5", "--write-config", str(config)]
    with pytest.raises(SystemExit) as stop:
        main(argv)
    captured = capsys.readouterr()
    assert stop.value.code == exit_codes.FATAL, captured
    assert "no recommendation for >= 50% agreement" in captured.out
    assert captured.err.strip().splitlines()[-1] == (
        f"edgexray: error: --write-config: nothing written to {config}, no row is recommended"
    )
    assert not config.exists()


def test_sweep_without_recommend_measures_and_write_config_alone_is_refused(
    models: list[Path], tmp_path: Path
) -> None:
    data = labelled_noise_images(tmp_path / "data", LABELS, 1, (24, 20), seed=7)
    args = ["bench", "--sweep", "-m", str(models[2]), "--data", str(data), "--threads", "1"]
    args += ["--runs", "1", "--warmup", "0", "--batch-sizes", "1"]
    measured = CliRunner().invoke(cli, args)
    assert measured.exit_code == 0, measured.output
    assert "tflite-int8 litert 1t" in measured.output
    refused = CliRunner().invoke(cli, [*args, "--write-config", str(tmp_path / "s.toml")])
    assert refused.exit_code == 2 and "--write-config needs --sweep and --recommend" in (
        refused.output
    )


@pytest.mark.parametrize("threads", [1, 2])
def test_the_sweep_report_says_which_thread_counts_it_used(
    threads: int, models: list[Path], tmp_path: Path
) -> None:
    data = labelled_noise_images(tmp_path / "data", LABELS, 1, (24, 20), seed=7)
    out = tmp_path / "sweep.json"
    args = ["bench", "--sweep", "--data", str(data), "--runs", "1", "--warmup", "0"]
    args += ["--batch-sizes", "1", "--threads", str(threads), "--json", str(out)]
    args += ["-m", str(models[2])]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    machine = json.loads(out.read_text())["machine"]
    assert machine["threads"] == threads
    (line,) = [x for x in result.output.splitlines() if x.startswith("machine:")]
    if threads == 1:
        assert "1 threads used" in line, line
    else:
        assert "1 to 2 threads, one count per row" in line, line
