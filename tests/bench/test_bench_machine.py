"""The machine description read from /proc/cpuinfo, on x86 and on a Raspberry Pi."""

from __future__ import annotations

from pathlib import Path

from edgexray.bench.machine import _cpuinfo, describe_machine

X86 = """processor\t: 0
vendor_id\t: AuthenticAMD
model\t\t: 17
model name\t: AMD EPYC 9R14
flags\t\t: fpu sse2 avx2 avx512f avx512_vnni
"""
PI = """processor\t: 0
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm crc32 asimddp
Model\t\t: Raspberry Pi 5 Model B Rev 1.0
"""


def test_x86_model_name_wins_over_the_model_number(tmp_path: Path) -> None:
    (tmp_path / "cpuinfo").write_text(X86)
    assert _cpuinfo(tmp_path / "cpuinfo") == ("AMD EPYC 9R14", ("avx2", "avx512f", "avx512_vnni"))


def test_arm_board_model_and_dot_product_feature(tmp_path: Path) -> None:
    (tmp_path / "cpuinfo").write_text(PI)
    assert _cpuinfo(tmp_path / "cpuinfo") == ("Raspberry Pi 5 Model B Rev 1.0", ("asimddp",))


def test_machine_records_threads_and_versions_without_importing_tensorflow() -> None:
    import sys

    had_tf = "tensorflow" in sys.modules
    info = describe_machine(threads=1)
    assert info.threads_used == 1 and info.logical_cores >= 1
    assert info.tool_versions["numpy"] and "edgexray" in info.tool_versions
    assert "1 threads used" in info.describe()
    assert ("tensorflow" in sys.modules) == had_tf


def test_machine_records_the_threads_the_engines_take_by_default(monkeypatch) -> None:
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0}, raising=False)  # taskset -c 0
    assert describe_machine(threads=None).threads_used == 1


def test_peak_rss_reads_this_address_space_high_water_mark(tmp_path: Path) -> None:
    from edgexray.bench.memory import peak_rss_mb

    status = tmp_path / "status"
    status.write_text(
        "Name:\tpython\nVmPeak:\t  999999 kB\nVmHWM:\t   51200 kB\nVmRSS:\t 40000 kB\n"
    )
    assert peak_rss_mb(status) == 50.0
    assert peak_rss_mb(tmp_path / "missing") > 0  # falls back to getrusage


def test_a_child_does_not_report_its_parents_memory() -> None:
    import subprocess
    import sys

    import numpy as np

    ballast = np.ones(64 * 2**20 // 8)  # 64 MiB touched in this (parent) process
    code = "from edgexray.bench.memory import peak_rss_mb; print(peak_rss_mb())"
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert float(child.stdout) < 60 and ballast.sum() > 0
