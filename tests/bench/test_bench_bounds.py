"""A bench run is bounded: the parent never holds every data image at once, and a measuring
process that hangs fails its own row after the timeout while the other rows are measured."""

from __future__ import annotations

import shutil
import tracemalloc
from pathlib import Path

import numpy as np
from bench_images import labelled_noise_images

from edgexray.bench import suite
from edgexray.bench.dataset import load_bench_data
from edgexray.bench.measure import TimingPlan
from edgexray.bench.runner import SubjectSpec
from edgexray.card import ModelCard
from edgexray.modelfile import write_card
from edgexray.preprocessing import Preprocessor

LABELS = ("NORMAL", "PNEUMONIA")
TEST_DATA = Path(__file__).parents[1] / "data"

# A subject whose engine never finishes loading, as a wedged accelerator driver would.
HANGING_SUBJECT = """
import time
from edgexray.bench.subjects import EdgexraySubject

class Hangs(EdgexraySubject):
    def load(self):
        time.sleep(3600)
"""


def test_preprocessed_images_are_streamed_to_disk_not_stacked_in_memory(tmp_path: Path) -> None:
    card = ModelCard(LABELS, "binary", 96, 96, 1, "unit", name="m")
    data = load_bench_data(
        labelled_noise_images(tmp_path / "data", LABELS, 60, (24, 20), seed=1), LABELS
    )
    one_image = 96 * 96 * 4
    tracemalloc.start()
    try:
        path = suite.preprocess_once(data, [card], tmp_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert path is not None
    # 120 images would be 4.4 MB stacked, twice that with the list they are stacked from.
    assert peak < 20 * one_image, peak
    saved = np.load(path, mmap_mode="r")
    assert saved.shape == (120, 96, 96, 1) and saved.dtype == np.float32
    preprocessor = Preprocessor.from_card(card)
    for i in (0, 77, 119):
        np.testing.assert_array_equal(saved[i], preprocessor(data.files[i]))
    # Past the size bound nothing is written: each child decodes the images itself.
    assert (
        suite.preprocess_once(data, [card], tmp_path / "x", max_bytes=120 * one_image - 1) is None
    )


def test_a_hanging_measuring_process_fails_its_row_and_the_others_are_measured(
    tmp_path: Path,
) -> None:
    (tmp_path / "hanging_subject.py").write_text(HANGING_SUBJECT)
    model = tmp_path / "tiny.tflite-fp32.tflite"
    shutil.copy(TEST_DATA / "binary_gray.tflite", model)
    card = ModelCard(LABELS, "binary", 16, 16, 1, "unit", name="tiny", variant="tflite-fp32")
    write_card(model, card)
    data = load_bench_data(
        labelled_noise_images(tmp_path / "data", LABELS, 1, (20, 20), seed=2), LABELS
    )
    specs = [
        SubjectSpec(
            "hangs", "hanging_subject:Hangs", model, "tflite", python_path=(str(tmp_path),)
        ),
        SubjectSpec("tflite-fp32", "edgexray", model, "tflite"),
    ]
    plan = TimingPlan(runs=2, warmup=0, batch_sizes=(1,))
    hung, measured = suite.measure_all(specs, data, plan, threads=1, timeout_s=5)
    assert hung.measurement is None and hung.error == "timed out after 5 s (see --timeout)"
    assert measured.error is None and measured.measurement is not None
