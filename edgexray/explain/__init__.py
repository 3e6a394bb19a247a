"""Where the model looked: heatmaps of the evidence for a decision, from any engine and variant.

No gradients, numpy only: a model exported with class evidence (a head of global average pooling
into one Dense layer) explains a decision from one more inference (class_evidence); any other model
by occlusion, which needs nothing but "run the model on a batch". Either way an int8 TFLite or ONNX
file on a device explains itself through its own engine.

    with edgexray.Classifier("model.tflite") as clf:
        explanation = clf.explain("chest.png")  # InputRejected if the input checks refuse it
        explanation.overlay.save("chest.overlay.png")

The decision explained is the classifier's own (`predict`'s: input checks, trust policy, DICOM
options), made from one read and one decode of the image, which also give the film under the map.
"""

from edgexray.explain.explainer import (
    METHODS,
    Explainable,
    Explanation,
    InputRejected,
    explain,
    explain_judged,
    resolve_method,
)
from edgexray.explain.heatmap import HeatmapSummary, summarize
from edgexray.explain.occlusion import OcclusionConfig, occlusion_map

__all__ = [
    "METHODS",
    "Explainable",
    "Explanation",
    "HeatmapSummary",
    "InputRejected",
    "OcclusionConfig",
    "explain",
    "explain_judged",
    "occlusion_map",
    "resolve_method",
    "summarize",
]
