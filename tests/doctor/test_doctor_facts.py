"""What doctor reads from the system files: CPU features and cores, memory, throttling, and the traps
it warns about."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from edgexray.cpuinfo import parse_cpuinfo
from edgexray.doctor.engines import InstalledEngine
from edgexray.doctor.facts import (
    CpuFacts,
    SystemFacts,
    ThermalFacts,
    collect_memory,
    decode_throttled,
    int8_features,
    max_zone_temperature,
    os_release,
)
from edgexray.doctor.report import find_traps
from edgexray.platform_support import is_32bit_arm, unsupported_platform
from edgexray.precision import offered_precisions

TOOLS = Path(__file__).resolve().parents[2] / "tools" / "arm64"
X86 = "processor\t: 0\nmodel name\t: AMD EPYC 9R14\nflags\t\t: fpu sse2 avx2 avx512f avx512_vnni\n"
PI32 = "processor\t: 0\nmodel name\t: ARMv7 Processor rev 3 (v7l)\nFeatures\t: half thumb fastmult vfp edsp neon vfpv3\nCPU part\t: 0xd08\n"

PI5 = SystemFacts("Debian GNU/Linux 12 (bookworm)", "Linux 6.6", "aarch64", 64, "3.11.2", "2.2.6")
COOL = ThermalFacts(45.0, ())
CPU = CpuFacts("Raspberry Pi 4 Model B Rev 1.4", ("Cortex-A72",), 4, 4, {"asimd": True})


def test_pi4_and_pi5_cpuinfo_give_their_cores_and_dot_product_only_on_the_pi5() -> None:
    pi4 = parse_cpuinfo((TOOLS / "cpuinfo-cortex-a72.txt").read_text())
    pi5 = parse_cpuinfo((TOOLS / "cpuinfo-cortex-a76.txt").read_text())
    assert pi4.model == "Raspberry Pi 4 Model B Rev 1.4" and pi4.arm_cores == ("Cortex-A72",)
    assert pi5.arm_cores == ("Cortex-A76",)
    assert int8_features(pi4, "aarch64") == {
        "asimd": True, "asimddp": False, "i8mm": False, "sve": False, "sve2": False
    }  # fmt: skip
    assert int8_features(pi5, "aarch64")["asimddp"] is True
    # The Pi 5's Cortex-A76 has fp16 arithmetic (asimdhp), the Pi 4's Cortex-A72 has not.
    assert offered_precisions(pi4, "aarch64") == ("f32",)
    assert offered_precisions(pi5, "aarch64") == ("f32", "f16")


def test_x86_features_and_32bit_neon() -> None:
    x86 = int8_features(parse_cpuinfo(X86), "x86_64")
    assert x86 == {
        "avx2": True, "avx512f": True, "avx512_vnni": True, "avx_vnni": False, "amx_int8": False
    }  # fmt: skip
    assert int8_features(parse_cpuinfo(PI32), "armv7l")["asimd"] is True  # "neon" on 32-bit


def test_meminfo_and_os_release(tmp_path: Path) -> None:
    (tmp_path / "meminfo").write_text("MemTotal:        8045012 kB\nMemAvailable:    7000000 kB\n")
    memory = collect_memory(tmp_path / "meminfo")
    assert (memory.total_mb, memory.available_mb) == (7856, 6835)
    assert collect_memory(tmp_path / "missing").total_mb is None
    (tmp_path / "os-release").write_text(
        'NAME="Debian"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n'
    )
    assert os_release(tmp_path / "os-release") == "Debian GNU/Linux 12 (bookworm)"


def test_throttling_flags_and_thermal_zones(tmp_path: Path) -> None:
    assert decode_throttled("throttled=0x0") == ()
    assert decode_throttled("throttled=0x50005") == (
        "under-voltage now",
        "throttled now",
        "under-voltage has occurred",
        "throttling has occurred",
    )
    for index, milli in enumerate((52000, 81500)):
        zone = tmp_path / f"thermal_zone{index}"
        zone.mkdir()
        (zone / "temp").write_text(f"{milli}\n")
    assert max_zone_temperature(tmp_path) == 81.5
    assert max_zone_temperature(tmp_path / "none") is None


@pytest.mark.parametrize(
    ("machine", "bits", "expected"),
    [("armv7l", 32, True), ("armv6l", 32, True), ("aarch64", 32, True), ("aarch64", 64, False),
     ("x86_64", 64, False)],
)  # fmt: skip
def test_32bit_arm_is_told_apart(machine: str, bits: int, expected: bool) -> None:
    assert is_32bit_arm(machine, bits) is expected
    assert (unsupported_platform(machine, bits, environ={}) is not None) is expected
    assert unsupported_platform(machine, bits, environ={"EDGEXRAY_ALLOW_32BIT": "1"}) is None


def test_a_healthy_pi_has_no_warning() -> None:
    assert (
        find_traps(PI5, CPU, [InstalledEngine("onnxruntime", "onnxruntime", "1.22.0")], COOL) == []
    )


def test_the_traps() -> None:
    ort_1210 = [InstalledEngine("onnxruntime", "onnxruntime", "1.21.0")]
    (warning,) = find_traps(PI5, CPU, ort_1210, COOL)
    assert "Illegal instruction" in warning and "!=1.21.0" in warning
    assert find_traps(replace(PI5, machine="x86_64"), CPU, ort_1210, COOL) == []
    (warning,) = find_traps(replace(PI5, machine="armv7l", bits=32), CPU, [], COOL)
    assert "64-bit Raspberry Pi OS" in warning
    tflite_runtime = [InstalledEngine("litert", "tflite-runtime", "2.14.0")]
    (warning,) = find_traps(PI5, CPU, tflite_runtime, COOL)
    assert "numpy 1" in warning
    assert find_traps(replace(PI5, numpy="1.26.4"), CPU, tflite_runtime, COOL) == []
    (warning,) = find_traps(PI5, replace(CPU, usable_cores=1), [], COOL)
    assert "1 of 4 cores" in warning
    hot = find_traps(PI5, CPU, [], ThermalFacts(84.0, ("throttled now",)))
    assert len(hot) == 2 and "throttled now" in hot[0] and "84 °C" in hot[1]
