"""Can MediaPipe's ImageClassifier run an edgexray .tflite file? Decided from the card alone.

Exported .tflite files carry standard TFLite Metadata (edgexray_export.variants.tflite_metadata)
that MediaPipe reads. It cannot run every model: its image classifier feeds RGB images, normalizes
with one mean and one std (NormalizationOptions; no per-channel values, no channel reordering), and
gives one score per label. `edgexray info` prints what it will do with a file.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgexray.card import ModelCard

# NormalizationOptions (mean, std on 0..255) for the normalizations that are one mean and one std.
MEDIAPIPE_NORMALIZATION = {"unit": (0.0, 255.0), "symmetric": (127.5, 127.5), "raw": (0.0, 1.0)}


@dataclass(frozen=True)
class MediaPipeSupport:
    """Whether MediaPipe's ImageClassifier can run the file, and why not when it cannot."""

    runs: bool
    reasons: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.runs:
            return "MediaPipe ImageClassifier: runs (TFLite Metadata, labels.txt)"
        return "MediaPipe ImageClassifier: will refuse it: " + "; ".join(self.reasons)


def mediapipe_support(card: ModelCard) -> MediaPipeSupport:
    """Whether MediaPipe's ImageClassifier runs a .tflite file exported with `card`."""
    reasons = []
    if card.input_channels != 3:
        reasons.append(f"{card.input_channels}-channel input (it feeds RGB images)")
    if card.normalize not in MEDIAPIPE_NORMALIZATION:
        reasons.append(
            f"normalize {card.normalize!r} is not one mean and one std (NormalizationOptions)"
        )
    if card.task == "binary":
        reasons.append("one sigmoid score, not one score per label")
    return MediaPipeSupport(not reasons, tuple(reasons))
