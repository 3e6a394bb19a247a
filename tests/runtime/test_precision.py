"""Precision as a deployment choice: which precisions a CPU offers (from its /proc/cpuinfo flags),
and an engine that never runs a precision other than the one asked for."""

from __future__ import annotations

import platform

import pytest

from edgexray import Classifier, ClassifierOptions
from edgexray.cpuinfo import parse_cpuinfo, read_cpuinfo
from edgexray.demo import default_model
from edgexray.engines import available_engines
from edgexray.errors import EngineUnavailableError
from edgexray.precision import offered_precisions

XEON_AMX = "model name\t: Xeon\nflags\t\t: fpu avx2 avx512f avx512_vnni avx512_bf16 amx_bf16 amx_int8 avx512_fp16\n"
EPYC_AVX2 = "model name\t: AMD EPYC\nflags\t\t: fpu sse4_2 avx avx2 fma\n"
PI5 = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp\nCPU part\t: 0xd0b\n"
PI4 = "processor\t: 0\nFeatures\t: fp asimd evtstrm crc32 cpuid\nCPU part\t: 0xd08\n"


@pytest.mark.parametrize(
    ("cpuinfo", "machine", "offered"),
    [
        (XEON_AMX, "x86_64", ("f32", "bf16", "f16")),
        (EPYC_AVX2, "x86_64", ("f32",)),
        (PI5, "aarch64", ("f32", "f16")),
        (PI4, "aarch64", ("f32",)),
    ],
)
def test_offered_precisions_follow_the_cpu_flags(
    cpuinfo: str, machine: str, offered: tuple[str, ...]
) -> None:
    assert offered_precisions(parse_cpuinfo(cpuinfo), machine) == offered


def test_an_engine_without_reduced_precision_refuses_it() -> None:
    with pytest.raises(EngineUnavailableError, match="litert engine runs f32 only, not bf16"):
        Classifier(default_model(), ClassifierOptions(precision="bf16"))
    with pytest.raises(ValueError, match="precision must be one of"):
        ClassifierOptions(precision="fp8")


def test_records_say_which_precision_decided() -> None:
    with Classifier(default_model()) as classifier:
        assert classifier.identity.to_record()["precision"] == "f32"


@pytest.mark.skipif("openvino" not in available_engines(), reason="needs the [openvino] extra")
def test_openvino_refuses_a_precision_this_cpu_would_not_run() -> None:
    """OpenVINO given bf16 on a CPU without bf16 quietly runs f32; edgexray refuses to claim it."""
    model = default_model().with_name("seed_cnn.onnx-fp32.onnx")
    offered = offered_precisions(read_cpuinfo(), platform.machine())
    for precision in ("bf16", "f16"):
        options = ClassifierOptions(engine="openvino", precision=precision)
        if precision in offered:
            with Classifier(model, options) as classifier:
                assert classifier.identity.precision == precision
        else:
            with pytest.raises(EngineUnavailableError, match=f"not {precision}"):
                Classifier(model, options)
