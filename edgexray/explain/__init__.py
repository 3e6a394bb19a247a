"""Where the model looked: heatmaps of the evidence for a decision, from any engine and variant.

Model-agnostic (numpy only, no gradients): the methods need nothing but "run the model on a batch",
so an int8 TFLite or ONNX file on a device explains itself as well as the float model does.

    with edgexray.Classifier("model.tflite") as clf:
        explanation = clf.explain("chest.png")  # InputRejected if the input checks refuse it
        explanation.overlay.save("chest.overlay.png")

The decision explained is the classifier's own (`predict`'s: input checks, trust policy, DICOM
options), made from one read and one decode of the image, which also give the film under the map.
"""

from edgexray.explain.explainer import (
    Explainable,
    Explanation,
    InputRejected,
    explain,
    explain_judged,
)
from edgexray.explain.heatmap import HeatmapSummary, summarize
from edgexray.explain.occlusion import OcclusionConfig, occlusion_map

__all__ = [
    "Explainable",
    "Explanation",
    "HeatmapSummary",
    "InputRejected",
    "OcclusionConfig",
    "explain",
    "explain_judged",
    "occlusion_map",
    "summarize",
]
