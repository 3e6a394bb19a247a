"""The model check: are an input's pooled features like those of the images the model was
calibrated on? The summary (card field `model_check`) is fitted at export; scoring runs on the
device with numpy only, on the features the engine returned with the prediction."""

from edgexray.modelcheck.score import MODEL_CHECK_REASON, model_check_finding, score_features
from edgexray.modelcheck.summary import METHODS, ModelCheckSummary, decode_array, encode_array

__all__ = [
    "METHODS",
    "MODEL_CHECK_REASON",
    "ModelCheckSummary",
    "decode_array",
    "encode_array",
    "model_check_finding",
    "score_features",
]
