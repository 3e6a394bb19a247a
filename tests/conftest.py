"""Shared fixtures: the tiny committed models (tests/data, built by make_tiny_models.py) with cards."""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgexray.card import ModelCard
from edgexray.engines.registry import ENGINES, available_engines
from edgexray.modelfile import write_card

DATA = Path(__file__).parent / "data"


def skip_unless_an_engine_reads(*files: str | Path) -> None:
    """Skip the test (never fail it) when no installed engine reads one of these model files: a
    device has LiteRT or ONNX Runtime, not always both."""
    readable = {s for name in available_engines() for s in ENGINES[name].suffixes}
    missing = sorted({Path(f).suffix.lower() for f in files} - readable)
    if missing:
        pytest.skip(f"no installed engine reads {', '.join(missing)} files")


def runnable(filename: str) -> str:
    """`filename` (a tiny model in tests/data), or the same model in the other format when no
    installed engine reads this one, for tests about inputs and outputs rather than one engine."""
    readable = {s for name in available_engines() for s in ENGINES[name].suffixes}
    stem, suffix = filename.rsplit(".", 1)
    if f".{suffix}" in readable:
        return filename
    for other in sorted(readable):
        if (DATA / f"{stem}{other}").exists():
            return f"{stem}{other}"
    pytest.skip(f"no installed engine reads {filename}")


TINY_CARDS = {
    "binary_gray": dict(
        labels=("NORMAL", "PNEUMONIA"), task="binary", input_channels=1, output_kind="probabilities"
    ),
    "three_rgb": dict(
        labels=("COVID", "NORMAL", "PNEUMONIA"),
        task="multiclass",
        input_channels=3,
        output_kind="probabilities",
    ),
    "logits_gray": dict(
        labels=("COVID", "NORMAL", "PNEUMONIA"),
        task="multiclass",
        input_channels=1,
        output_kind="logits",
    ),
}


def counted(
    monkeypatch: pytest.MonkeyPatch,
    owner: object,
    name: str,
    only: Callable[..., bool] = lambda *args, **kwargs: True,
) -> list[tuple[Any, ...]]:
    """The calls of `owner.name` from now on that `only` accepts (their positional arguments);
    each still runs. E.g. how often a file is opened, or an image decoded."""
    calls: list[tuple[Any, ...]] = []
    real = getattr(owner, name)

    def counting(*args: Any, **kwargs: Any) -> Any:
        if only(*args, **kwargs):
            calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, counting)
    return calls


def opens_of(monkeypatch: pytest.MonkeyPatch, path: Path) -> list[tuple[Any, ...]]:
    """The os.open calls of `path` from now on (see counted)."""
    return counted(
        monkeypatch, os, "open", lambda name, *a, **k: os.fspath(name) == os.fspath(path)
    )


def run_edgexray(
    *args: str, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`edgexray ARGS` in a fresh process of this interpreter (output captured as text)."""
    return subprocess.run(
        [sys.executable, "-m", "edgexray.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def tiny_card(name: str, **changes: object) -> ModelCard:
    base = TINY_CARDS[name.split(".")[0]]
    # Created like an exported card: a signature's version defaults to this time (20261201000000).
    fields = dict(
        base,
        input_height=16,
        input_width=16,
        normalize="unit",
        name=name,
        created="2026-12-01T00:00:00+00:00",
    )
    fields.update(changes)
    return ModelCard(**fields)  # type: ignore[arg-type]


@pytest.fixture
def carded(tmp_path: Path):
    """carded("binary_gray.tflite", threshold=0.3) -> path of a copy with the card embedded."""

    def make(filename: str, **changes: object) -> Path:
        skip_unless_an_engine_reads(filename)
        target = tmp_path / filename
        shutil.copy(DATA / filename, target)
        write_card(target, tiny_card(filename, variant=filename, **changes))
        return target

    return make


@pytest.fixture(scope="session")
def tiny_reference() -> dict[str, np.ndarray]:
    with np.load(DATA / "tiny_reference.npz") as data:
        return {key: data[key] for key in data.files}


@pytest.fixture(autouse=True)
def _input_checks_off_for_the_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    """The images these tests classify are flat frames, noise and gradients made to exercise
    decoding and I/O, which the input checks rightly refuse: CLI runs (in process or as child
    processes, which inherit the environment) get `--input-check off` by its environment variable.
    The input checks' own tests ask for their mode explicitly."""
    monkeypatch.setenv("EDGEXRAY_INPUT_CHECK", "off")


@pytest.fixture(autouse=True)
def _no_system_configuration(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A device's own /etc/edgexray/edgexray.toml (the tests also run on devices) must not change
    what the tests run: the system file is one that does not exist, unless a test writes it."""
    monkeypatch.setenv("EDGEXRAY_SYSTEM_CONFIG", str(tmp_path / "system" / "edgexray.toml"))


TINY_CARDS["features_gray"] = dict(
    labels=("COVID", "NORMAL", "PNEUMONIA"),
    task="multiclass",
    input_channels=1,
    output_kind="probabilities",
)


@pytest.fixture(scope="module")
def local_ray():
    """A real local Ray with 2 CPUs for one test module (tests/scale), shut down after it."""
    ray = pytest.importorskip("ray")
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield
    ray.shutdown()


_PR_CAPBSET_DROP = 24
_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH = 1, 2


def service_user() -> dict[str, Any]:
    """Popen arguments that make the child subject to file permissions like the `edgexray`
    service user. As root, the child drops CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from its
    bounding set before it execs, so root's capabilities after the exec no longer include them.
    (Running it as another user, e.g. nobody, does not work everywhere: the interpreter may live
    where only root can reach it.) Not root: nothing to change."""
    if os.geteuid() != 0:
        return {}
    libc = ctypes.CDLL(None, use_errno=True)

    def drop() -> None:
        for capability in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
            if libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
                os._exit(125)

    return {"preexec_fn": drop}


def unreadable_for(path: Path, popen: dict[str, Any]) -> bool:
    """chmod 000 `path`; whether a child started with `popen` is then refused its bytes (False
    where it still reads them: root whose capabilities could not be dropped)."""
    path.chmod(0)
    probe = subprocess.run(
        [sys.executable, "-c", f"open({str(path)!r}, 'rb').read()"],
        capture_output=True,
        timeout=60,
        **popen,
    )
    return probe.returncode != 0


def make_unreadable(path: Path, popen: dict[str, Any]) -> None:
    """chmod 000 `path`, and skip the test when a child started with `popen` still reads it."""
    if not unreadable_for(path, popen):
        pytest.skip("a child of this process reads a chmod 000 file (capabilities not droppable)")
