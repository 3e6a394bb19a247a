"""edgexray.scale on a real local Ray (one session for the module): the records are classify's."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray")
psutil = pytest.importorskip("psutil")

from conftest import run_edgexray  # noqa: E402

from edgexray.demo import default_model, samples_folder  # noqa: E402
from edgexray.errors import ModelError  # noqa: E402
from edgexray.metrics import classification_metrics  # noqa: E402
from edgexray.scale import ShippedModel, archive_metrics, classify_dataset, row_to_record  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample images and one corrupt file among them."""
    folder = tmp_path_factory.mktemp("archive")
    shutil.copytree(samples_folder(), folder, dirs_exist_ok=True)
    (folder / "NORMAL" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    return folder


def _files(folder: Path) -> list[str]:
    return sorted(str(p) for p in folder.rglob("*") if p.is_file())


def _by_path(records: list[dict]) -> dict[str, dict]:
    return {r["path"]: r for r in records}


def _assert_same_records(ours: dict[str, dict], theirs: dict[str, dict]) -> None:
    assert sorted(ours) == sorted(theirs)
    for path, expected in theirs.items():
        got = ours[path]
        assert sorted(got) == sorted(expected), path  # the same field names
        if "error" in expected:
            assert got["error"] == expected["error"]
            continue
        assert got["label"] == expected["label"], path
        assert got["confidence"] == pytest.approx(expected["confidence"], abs=1e-6)
        assert sorted(got["probabilities"]) == sorted(expected["probabilities"])
        for label, p in expected["probabilities"].items():
            assert got["probabilities"][label] == pytest.approx(p, abs=1e-6), (path, label)


@pytest.fixture(scope="module")
def classify_records(images: Path) -> dict[str, dict]:
    """What `edgexray classify --format json` says about the same files."""
    done = run_edgexray("classify", "-m", str(default_model()), "--format", "json", str(images))
    assert done.returncode == 3, done.stderr  # the corrupt file
    return _by_path(json.loads(done.stdout))


def test_paths_give_classify_records(local_ray, images, classify_records):
    ds = ray.data.from_items([{"path": f} for f in _files(images)])
    rows = classify_dataset(ds, default_model(), actors=2, batch_size=4).take_all()
    records = [row_to_record(r) for r in rows]
    assert len(records) == len(classify_records)  # one record per input, no duplicates
    _assert_same_records(_by_path(records), classify_records)
    broken = _by_path(records)[str(images / "NORMAL" / "broken.png")]
    # Like classify's: the bytes were read, so the record says which bytes failed.
    assert set(broken) == {"path", "sha256", "error", "model"} and "not an image" in broken["error"]
    # Every worker's records name the bytes it loaded: those of the model file, read once.
    loaded = {r["model"]["sha256"] for r in records}
    assert loaded == {hashlib.sha256(default_model().read_bytes()).hexdigest()}


def test_bytes_give_classify_records(local_ray, images, classify_records):
    ds = ray.data.read_binary_files(str(images), include_paths=True)
    records = [row_to_record(r) for r in classify_dataset(ds, default_model()).take_all()]
    # read_binary_files names local files without the leading slash on some versions: normalize
    ours = {
        ("/" + r["path"].lstrip("/")): r | {"path": "/" + r["path"].lstrip("/")} for r in records
    }
    _assert_same_records(ours, classify_records)


def test_archive_metrics_from_class_folders(local_ray, images, classify_records):
    labels = ("NORMAL", "PNEUMONIA")
    ds = ray.data.from_items([{"path": f} for f in _files(images)])
    tally = archive_metrics(classify_dataset(ds, default_model(), actors=2), labels)
    good = [r for r in classify_records.values() if "error" not in r]
    expected = classification_metrics(
        np.array([labels.index(Path(r["path"]).parent.name) for r in good]),
        np.array([labels.index(r["label"]) for r in good]),
        labels,
    )
    assert tally.errors == 1 and tally.unlabelled == 0
    assert tally.metrics().to_dict() == expected.to_dict()


def test_tampered_model_bytes_are_refused_on_the_worker(local_ray):
    shipped = ShippedModel.put(default_model())
    tampered = ShippedModel(shipped.name, ray.put(b"\0" * 64), shipped.sha256, shipped.sidecar)
    with pytest.raises(ModelError, match="SHA-256"):
        tampered.load()
    assert shipped.load().card is not None  # the genuine bytes pass the model-file checks


def _actor_processes() -> list[psutil.Process]:
    """This test's Ray actors running our classifier (descendants of this process only: other
    Ray instances on the machine are not ours to touch)."""
    return [
        p
        for p in psutil.Process().children(recursive=True)
        if "ClassifyBatch" in " ".join(_cmdline(p))
    ]


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except psutil.Error:
        return []


def test_killed_actor_loses_no_record_and_duplicates_none(local_ray, images):
    files = _files(images) * 6  # the same file at several rows: count per row, not per name
    ds = ray.data.from_items([{"path": f, "row": i} for i, f in enumerate(files)])

    def slowly(batch: dict) -> dict:  # a user's own step (defined here: Ray ships it by value)
        time.sleep(0.05)  # keeps the run going while an actor dies
        return batch

    ds = ds.map_batches(slowly, batch_size=1)
    records = classify_dataset(ds, default_model(), actors=1, batch_size=2)
    rows: list[dict] = []
    seen = 0
    killed = None
    after_kill = 0
    for batch in records.iter_batches(batch_size=None, batch_format="pyarrow"):
        seen += batch.num_rows
        rows += batch.to_pylist()
        if killed is None and seen >= 10:
            actors = _actor_processes()
            assert actors, "no actor process found to kill"
            killed = actors[0].pid
            os.kill(killed, signal.SIGKILL)
        elif killed is not None:
            after_kill += batch.num_rows
    assert killed is not None and after_kill > 0  # the kill happened mid-run
    assert not psutil.pid_exists(killed) or psutil.Process(killed).status() == "zombie"
    assert seen == len(files)
    assert Counter(r["path"] for r in rows) == Counter(files)  # each row once: no gap, no duplicate


def test_runtime_import_does_not_import_ray():
    code = "import sys, edgexray, edgexray.classifier; print('ray' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_ray_workers_run_the_bytes_the_driver_verified_never_the_file_again(
    local_ray, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`classify --ray` reads the model once: a file replaced after the driver checked it (here
    by another valid model) never reaches a worker, which runs the verified bytes."""
    from edgexray.card_resolution import CardOverrides
    from edgexray.cli import ray_classify

    model = tmp_path / "model.tflite"
    shutil.copy(default_model(), model)
    verified = hashlib.sha256(model.read_bytes()).hexdigest()
    other = default_model().with_name("seed_cnn.tflite-fp32.tflite")
    connect = ray_classify.ray_session

    @contextmanager
    def swap_then_connect(address: str, timeout: float) -> Iterator[int]:
        shutil.copy(other, model)  # after the driver read and verified the file
        with connect(address, timeout) as cpus:
            yield cpus

    monkeypatch.setattr(ray_classify, "ray_session", swap_then_connect)
    out = tmp_path / "records.jsonl"
    ray_classify.classify_on_ray(
        (samples_folder(),), model, "local", out, actors=1, batch_size=4, overrides=CardOverrides()
    )
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert records and not [r for r in records if "error" in r]
    assert {r["model"]["sha256"] for r in records} == {verified}


def test_ray_records_carry_the_identity_the_driver_made_signer_included(
    local_ray, tmp_path: Path
) -> None:
    """The identity is made once, where the driver loads and verifies the model, and every worker
    record carries it: the signer too, although the trusted keys never leave the driver."""
    pytest.importorskip("cryptography")
    from edgexray.card_resolution import CardOverrides
    from edgexray.classifier import Classifier, ClassifierOptions
    from edgexray.cli import ray_classify
    from edgexray.signing.keys import generate_key_pair
    from edgexray.signing.sign import sign_model

    private, public, _ = generate_key_pair(tmp_path / "site")
    model = tmp_path / "model.tflite"
    shutil.copy(default_model(), model)
    sign_model(model, private)
    options = ClassifierOptions(trusted_keys=(public,))
    with Classifier(model, options) as classifier:
        expected = classifier.identity.to_record()
    assert expected["signer"] is not None
    out = tmp_path / "records.jsonl"
    ray_classify.classify_on_ray(
        (samples_folder(),),
        model,
        "local",
        out,
        actors=1,
        batch_size=4,
        overrides=CardOverrides(),
        options=options,
    )
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert records and all(r["model"] == expected for r in records), records[0]["model"]
