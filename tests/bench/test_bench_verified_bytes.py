"""Bench reads each model once, in the parent (its signature verified there under a trust policy),
and every measuring child checks that the file it loads still has those bytes' SHA-256: a file
replaced in between is refused, never measured (issue 23)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from bench_images import labelled_noise_images

from edgexray.bench import suite, sweep
from edgexray.bench.measure import TimingPlan
from edgexray.bench.runner import SubjectSpec, run_isolated
from edgexray.bench.suite import BenchRequest, read_models, run_bench

LABELS = ("NORMAL", "PNEUMONIA")
QUICK = TimingPlan(runs=2, warmup=0, batch_sizes=(1,), timing_images=2)


def _two_models(carded: Any) -> tuple[Path, bytes, bytes]:
    """A carded tiny model on disk, its bytes, and the bytes of another valid model (the same
    network with another card) to replace it with."""
    other = carded("binary_gray.tflite", threshold=0.3).read_bytes()
    model = carded("binary_gray.tflite")
    return model, model.read_bytes(), other


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return labelled_noise_images(tmp_path / "data", LABELS, 3, (20, 18), seed=5)


def test_a_child_refuses_a_file_whose_bytes_are_not_those_the_parent_verified(
    carded: Any, data: Path
) -> None:
    model, _, other = _two_models(carded)
    (verified,) = read_models((model,))
    files = sorted(data.rglob("*.png"))
    spec = SubjectSpec("v", "edgexray", model, "tflite", sha256=verified.sha256)
    assert run_isolated(spec, files, QUICK, threads=1, timeout_s=120).measurement is not None
    model.write_bytes(other)
    refused = run_isolated(spec, files, QUICK, threads=1, timeout_s=120)
    assert refused.measurement is None
    assert refused.error is not None and "changed since bench read and verified it" in refused.error


@pytest.mark.parametrize("run", ["bench", "sweep"])
def test_no_row_measures_a_file_replaced_after_it_was_read(
    run: str, carded: Any, data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file is replaced between the parent's read (and verification) and the children."""
    model, _, other = _two_models(carded)
    module = suite if run == "bench" else sweep
    preprocess = suite.preprocess_once

    def replace_then_preprocess(*args: Any, **kwargs: Any) -> Path | None:
        model.write_bytes(other)
        return preprocess(*args, **kwargs)

    monkeypatch.setattr(module, "preprocess_once", replace_then_preprocess)
    request = BenchRequest(models=(model,), data=data, plan=QUICK, timeout_s=120)
    report = run_bench(request) if run == "bench" else sweep.run_sweep(request, 1).report
    assert report.results
    for row in report.results:
        assert not row.ok
        assert "changed since bench read and verified it" in str(row.error)
