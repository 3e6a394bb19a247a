"""A reader that leaves (`edgexray classify DIR | head -1`) ends the run quietly with exit code 141,
through a real pipe: no traceback, no error line, no summary, in every output format and for every
command that prints."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DATA, runnable, skip_unless_an_engine_reads
from PIL import Image

from edgexray import exit_codes

# What LiteRT itself prints from C++ when it loads a model; nothing edgexray can silence (see
# edgexray/engines/litert.py). Any other stderr line fails these tests.
LITERT_BANNER = "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."
PIPE_BUFFER = 64 * 1024  # Linux default; the output below is larger, so the writer must block


@pytest.fixture(scope="module")
def many_images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """500 tiny images with long names: every format's output is over twice the pipe buffer,
    so the run is still writing when the reader leaves."""
    folder = tmp_path_factory.mktemp("many")
    for i in range(500):
        Image.new("L", (8, 8), i % 256).save(folder / f"{i:04d}_{'x' * 200}.png")
    return folder


def run_and_leave(args: list[str], tmp_path: Path, read_lines: int) -> tuple[int, bytes, str]:
    """Run the CLI with stdout to a pipe, read `read_lines` lines, close the pipe; -> (exit code,
    what was read, stderr)."""
    errors = tmp_path / "stderr.txt"
    with errors.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "edgexray.cli.main", *args], stdout=subprocess.PIPE, stderr=err
        )
        assert process.stdout is not None
        read = b"".join(process.stdout.readline() for _ in range(read_lines))
        process.stdout.close()
        code = process.wait(timeout=120)
    return code, read, errors.read_text()


def unexpected_stderr(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line != LITERT_BANNER]


def classify_args(model: str, output_format: str, folder: Path) -> list[str]:
    skip_unless_an_engine_reads(model)
    flags = ["--labels", "NORMAL,PNEUMONIA", "--normalize", "unit", "--format", output_format]
    return ["classify", "-m", str(DATA / model), *flags, str(folder)]


@pytest.mark.parametrize("output_format", ["table", "csv", "json", "jsonl"])
def test_classify_into_a_closed_pipe_ends_quietly(
    output_format: str, many_images: Path, tmp_path: Path
) -> None:
    args = classify_args("binary_gray.tflite", output_format, many_images)
    code, read, stderr = run_and_leave(args, tmp_path, read_lines=1)
    assert code == exit_codes.OUTPUT_CLOSED == 141
    assert read.strip()  # the reader did get the beginning of the output
    assert unexpected_stderr(stderr) == [], stderr


def test_the_test_output_outlives_the_pipe_buffer(many_images: Path) -> None:
    """Guards the test above: with less output than the pipe holds, the run could finish before
    the reader leaves and the pipe would never break. The table is the most compact format."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "edgexray.cli.main",
            *classify_args("binary_gray.onnx", "table", many_images),
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert len(done.stdout) > 2 * PIPE_BUFFER


@pytest.mark.parametrize(
    "args",
    [["info", "MODEL"], ["info", "--json", "MODEL"], ["--help"], ["--version"], ["classify", "-h"]],
    ids=["info", "info-json", "help", "version", "classify-help"],
)
def test_other_commands_into_a_closed_pipe_end_quietly(
    args: list[str], carded, tmp_path: Path
) -> None:
    model = str(carded("three_rgb.onnx"))
    # Reading nothing: the pipe is closed before the command prints, so its first write fails.
    code, _, stderr = run_and_leave(
        [model if a == "MODEL" else a for a in args], tmp_path, read_lines=0
    )
    assert code == exit_codes.OUTPUT_CLOSED
    assert unexpected_stderr(stderr) == [], stderr


def test_bench_into_a_closed_pipe_still_writes_its_json_report(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for i in range(3):
        Image.new("L", (8, 8), 60 * i).save(data / f"{i}.png")
    report = tmp_path / "bench.json"
    args = ["bench", "-m", str(DATA / runnable("binary_gray.onnx")), "--labels", "NORMAL,PNEUMONIA"]
    args += ["--normalize", "unit", "--data", str(data), "--runs", "2", "--json", str(report)]
    code, _, stderr = run_and_leave(args, tmp_path, read_lines=0)
    assert code == exit_codes.OUTPUT_CLOSED
    progress = ("edgexray: preprocessing ", "edgexray: measuring ")  # bench's own progress lines
    assert [line for line in unexpected_stderr(stderr) if not line.startswith(progress)] == []
    (row,) = json.loads(report.read_text())["results"]
    assert row["error"] is None and row["latency_ms"]["count"] == 2
