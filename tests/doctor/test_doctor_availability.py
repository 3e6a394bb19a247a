"""doctor's table of installable engines against what pip resolved for each Linux machine and Python
(tests/data/engine_wheels.json, recorded by tools/record_engine_wheels.py within the versions the
extras allow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgexray.doctor.engines import WHEELS, installable_engines, table_machine

RECORDED = json.loads((Path(__file__).parents[1] / "data" / "engine_wheels.json").read_text())
CASES = [
    (dist, machine, python, wheel)
    for dist, machines in RECORDED.items()
    for machine, pythons in machines.items()
    for python, wheel in pythons.items()
]


def test_the_table_covers_every_recorded_engine() -> None:
    assert {w.distribution for w in WHEELS} == set(RECORDED)


@pytest.mark.parametrize(("distribution", "machine", "python", "wheel"), CASES)
def test_table_says_installable_exactly_where_pip_found_a_wheel(
    distribution: str, machine: str, python: str, wheel: str | None
) -> None:
    listed = any(w.distribution == distribution for w in installable_engines(machine, python))
    assert listed == (wheel is not None), (distribution, machine, python, wheel)
    if wheel:
        assert f"cp{python.replace('.', '')}" in wheel and machine in wheel


def test_machine_spellings_and_a_32bit_python_on_a_64bit_kernel() -> None:
    assert table_machine("AMD64") == "x86_64" and table_machine("arm64") == "aarch64"
    assert table_machine("aarch64", bits=32) == "armv7l"
    assert [w.distribution for w in installable_engines("armv7l", "3.11.2")] == ["tflite-runtime"]
    assert installable_engines("armv7l", "3.12.1") == []
    assert installable_engines("riscv64", "3.11") == []


def test_engines_already_installed_are_left_out() -> None:
    assert [
        w.distribution for w in installable_engines("x86_64", "3.11", installed=("litert",))
    ] == [
        "onnxruntime",
        "openvino",
    ]
