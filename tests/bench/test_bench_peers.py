"""The peers in benchmarks/peers.py (LiteRT, ONNX Runtime, OpenVINO used by hand) give the same
probabilities as edgexray on the same files: the hand-written int8 quantization included."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import skip_unless_an_engine_reads
from PIL import Image

from edgexray.bench.measure import TimingPlan
from edgexray.bench.runner import SubjectSpec, run_isolated
from edgexray.card import ModelCard
from edgexray.modelfile import write_card

BENCHMARKS = Path(__file__).parents[2] / "benchmarks"
TEST_DATA = Path(__file__).parents[1] / "data"
CARD = ModelCard(("NORMAL", "PNEUMONIA"), "binary", 16, 16, 1, "unit", name="tiny")


@pytest.mark.parametrize(
    ("source", "factory"),
    [
        ("binary_gray.int8.tflite", "peers:LiteRTByHand"),
        ("binary_gray.onnx", "peers:ONNXRuntimeByHand"),
        ("binary_gray.onnx", "peers:OpenVINOByHand"),
    ],
)
def test_peer_matches_edgexray_on_the_same_file(tmp_path: Path, source: str, factory: str) -> None:
    skip_unless_an_engine_reads(source)
    if factory.endswith("OpenVINOByHand"):
        pytest.importorskip("openvino")
    model = tmp_path / source
    shutil.copy(TEST_DATA / source, model)
    write_card(model, CARD.replace(variant="v"))
    rng = np.random.default_rng(2)
    files = []
    for i in range(5):
        files.append(tmp_path / f"{i}.png")
        Image.fromarray(rng.integers(0, 256, (20, 20), dtype=np.uint8)).save(files[-1])
    plan = TimingPlan(runs=2, warmup=0, batch_sizes=(1, 3))
    ours = run_isolated(SubjectSpec("v", "edgexray", model, "x"), files, plan, threads=1)
    peer_spec = SubjectSpec("p", factory, model, "x", CARD, "peer", (str(BENCHMARKS),))
    peer = run_isolated(peer_spec, files, plan, threads=1)
    assert ours.measurement is not None and peer.measurement is not None, peer.error
    assert peer.measurement.throughput_ips.keys() == {1, 3}
    # OpenVINO may run float models in bf16 by default: close, not bit-equal.
    tolerance = 1e-2 if factory.endswith("OpenVINOByHand") else 1e-6
    np.testing.assert_allclose(
        peer.measurement.probabilities, ours.measurement.probabilities, atol=tolerance
    )
