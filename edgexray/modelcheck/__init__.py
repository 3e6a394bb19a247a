"""The model checks: are an input's pooled features (the model check) and its coarse layout (the
appearance check) like those of the images the model was calibrated on? The summaries (card
fields `model_check`, `appearance_check`) are fitted at export; scoring runs on the device with
numpy only, on the features the engine returned with the prediction and on the model input."""

from edgexray.modelcheck.appearance import (
    APPEARANCE_REASON,
    appearance_features,
    appearance_finding,
)
from edgexray.modelcheck.score import MODEL_CHECK_REASON, model_check_finding, score_features
from edgexray.modelcheck.summary import METHODS, ModelCheckSummary, decode_array, encode_array

__all__ = [
    "APPEARANCE_REASON",
    "METHODS",
    "MODEL_CHECK_REASON",
    "ModelCheckSummary",
    "appearance_features",
    "appearance_finding",
    "decode_array",
    "encode_array",
    "model_check_finding",
    "score_features",
]
