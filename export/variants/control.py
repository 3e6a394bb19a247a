"""The control run of a quantized export: the int8 pipeline with nothing quantized must give the
Keras model's outputs.

Before an int8 ladder spends its attempts (a full calibration each; about 40 minutes in all on
issue 22's fine-tuned Xception), the exporter writes the model once through the same steps with no
value rounded and runs it, as every candidate is run, through the edgexray engine on the calibration
images. Any difference from Keras beyond CONTROL_TOLERANCE was made by the pipeline changing the
graph (issue 22: the float tail dropped a ReLU the network needs, and 13 attempts with up to 65
float nodes all stayed 0.95 away), which no quantization setting can fix: the variant stops with
one line naming the first output that differs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from edgexray_export.errors import ExportError
from edgexray_export.variants.base import ConversionInput

from edgexray.engines.outputs import (
    EVIDENCE_OUTPUT,
    FEATURES_OUTPUT,
    PREDICTION_OUTPUT,
    EngineOutputs,
)
from edgexray.postprocess import to_probabilities

#: How far the control run may be from Keras: probabilities (|dp|), and features relative to
#: their largest magnitude (at least 1). Float32 arithmetic in another order stays near 1e-6.
CONTROL_TOLERANCE = 1e-4
_BATCH = 32


def control_differences(outputs: EngineOutputs, job: ConversionInput) -> dict[str, float]:
    """How far each output of a control run on job.calibration is from Keras, by output name,
    the prediction first: max |dp| of the probabilities, and for the features and the class
    evidence (when both have them) max |difference| over their largest magnitude (at least 1)."""
    got = to_probabilities(outputs.prediction.reshape(len(job.calibration), -1), job.card)
    want = to_probabilities(job.calibration_reference.astype(np.float32), job.card)
    differences = {PREDICTION_OUTPUT: float(np.max(np.abs(got - want), initial=0.0))}
    for name, keras, got_output in (
        (FEATURES_OUTPUT, job.calibration_features, outputs.features),
        (EVIDENCE_OUTPUT, job.calibration_evidence, outputs.evidence),
    ):
        if keras is not None and got_output is not None:
            got_output = got_output.reshape(keras.shape)
            scale = max(1.0, float(np.max(np.abs(keras), initial=0.0)))
            differences[name] = float(np.max(np.abs(got_output - keras), initial=0.0)) / scale
    return differences


def check_control(
    path: Path, job: ConversionInput, locate: Callable[[], str | None] | None = None
) -> dict[str, float]:
    """Run the control file at `path` on job.calibration through the edgexray engine; return
    control_differences when every output is within CONTROL_TOLERANCE, else raise ExportError
    naming the first output that differs (and, from `locate`, the first tensor inside the graph
    that does, where the format can tell)."""
    from edgexray.engines import EngineOptions, open_engine

    engine = open_engine(path, EngineOptions())
    try:
        x = job.calibration
        outputs = EngineOutputs.concatenate(
            [engine.infer(x[i : i + _BATCH]) for i in range(0, len(x), _BATCH)]
        )
    finally:
        engine.close()
    differences = control_differences(outputs, job)
    over = [(name, value) for name, value in differences.items() if not value <= CONTROL_TOLERANCE]
    if not over:
        return differences
    name, value = over[0]
    inside = locate() if locate is not None else None
    raise ExportError(
        "the int8 pipeline changes the graph, so this is a bug and not a quantization error: "
        f"with nothing quantized, output '{name}' is {value:.2g} from Keras (allowed "
        f"{CONTROL_TOLERANCE:g})" + (f"; first differing tensor {inside}" if inside else "")
    )


def control_notes(differences: dict[str, float]) -> dict[str, object]:
    """The card's record of a passed control run."""
    return {
        "control_run": {
            "max_difference": {name: float(f"{value:.3g}") for name, value in differences.items()},
            "tolerance": CONTROL_TOLERANCE,
        }
    }
