"""Compare `edgexray classify --format json` results of arm64 runs with the x86 host's.

Usage: python compare.py MODELS_DIR X86_DIR ARM_DIR [ARM_DIR...]
Each results folder holds one `<model file name>.json` per model. For every sample and model:
the same label, and probabilities within the model's tolerance: 1e-5 for float variants; for int8
variants one step of the output's quantization where the output is an int8 tensor, else 2e-3
(ARM and x86 int8 kernels may round differently). Prints one line per model and CPU with the
largest difference, and exits 1 when any result is outside its tolerance or missing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from edgexray.engines.base import EngineOptions
from edgexray.engines.registry import open_engine

FLOAT_TOLERANCE = 1e-5
INT8_FLOAT_OUTPUT_TOLERANCE = 2e-3
# ONNX dynamic quantization rounds activations with ranges computed per call by each platform's own
# integer kernels. Measured 2026-12-06 with the seed CNN's 7-bit-weight onnx-int8-dynamic: arm64 (both
# code paths) 0.0198 from an AVX2 x86 host on NORMAL_01, where the x86 result equals the file's float
# emulation (ORT_DISABLE_ALL); the labels agree. Still wide enough to catch a broken engine or file.
ONNX_DYNAMIC_TOLERANCE = 0.03
# Rounding slack on top of one quantization step, for the float arithmetic around it.
_SLACK = 1e-6


def is_int8_variant(model: Path) -> bool:
    """Variants with int8 weights or activations (full integer, QDQ, dynamic range)."""
    return any(tag in model.name for tag in ("int8", "dynamic"))


def tolerance(model: Path) -> tuple[float, str]:
    """The allowed |dp| for this model and a word on where it comes from."""
    if not is_int8_variant(model):
        return FLOAT_TOLERANCE, "fp32"
    if model.suffix == ".onnx" and "dynamic" in model.name:
        return ONNX_DYNAMIC_TOLERANCE, "onnx dynamic int8, per-call activation ranges"
    engine = open_engine(model, EngineOptions(threads=1))
    try:
        if engine.output.quantized:
            return engine.output.scale + _SLACK, "one output step"
    finally:
        engine.close()
    return INT8_FLOAT_OUTPUT_TOLERANCE, "int8, float output"


def _by_sample(path: Path) -> dict[str, dict]:
    records = json.loads(path.read_text(encoding="utf-8"))
    return {"/".join(Path(r["path"]).parts[-2:]): r for r in records}


def compare(model: Path, x86: Path, arm: Path) -> tuple[bool, str]:
    """(within tolerance, one line saying so) for one model on one emulated CPU."""
    allowed, why = tolerance(model)
    if not arm.is_file():
        return False, f"{model.name}: no arm64 result ({arm.name} missing)"
    expected, got = _by_sample(x86), _by_sample(arm)
    problems, worst = [], 0.0
    for sample, want in expected.items():
        have = got.get(sample)
        if have is None or "error" in have or "error" in want:
            problems.append(f"{sample}: {(have or {}).get('error', 'missing')}")
            continue
        if have["label"] != want["label"]:
            problems.append(f"{sample}: label {have['label']} on arm64, {want['label']} on x86")
        diff = max(abs(have["probabilities"][k] - p) for k, p in want["probabilities"].items())
        worst = max(worst, diff)
        if diff > allowed:
            problems.append(f"{sample}: |dp| {diff:.3g} > {allowed:.3g}")
    status = "ok" if not problems else "DIFFERS"
    line = (
        f"{status:7} {model.name}: {len(expected)} samples, max |dp| {worst:.3g} "
        f"(allowed {allowed:.3g}, {why})"
    )
    return not problems, "\n".join([line, *(f"        {p}" for p in problems)])


def main(argv: list[str]) -> int:
    models_dir, x86_dir, *arm_dirs = (Path(a) for a in argv)
    ok = True
    for x86 in sorted(x86_dir.glob("*.json")):
        model = models_dir / x86.name.removesuffix(".json")
        for arm_dir in arm_dirs:
            good, line = compare(model, x86, arm_dir / x86.name)
            ok &= good
            print(f"{arm_dir.name:12} {line}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
