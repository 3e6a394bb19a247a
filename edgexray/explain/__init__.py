"""Where the model looked: heatmaps of the evidence for a decision, from any engine and variant.

Model-agnostic (numpy only, no gradients): the methods need nothing but "run the model on a batch",
so an int8 TFLite or ONNX file on a device explains itself as well as the float model does.

    with edgexray.Classifier("model.tflite") as clf:
        explanation = clf.explain("chest.png")
        explanation.overlay.save("chest.overlay.png")
"""

from edgexray.explain.explainer import Explanation, explain
from edgexray.explain.heatmap import HeatmapSummary, summarize
from edgexray.explain.occlusion import OcclusionConfig, occlusion_map

__all__ = [
    "Explanation",
    "HeatmapSummary",
    "OcclusionConfig",
    "explain",
    "occlusion_map",
    "summarize",
]
