"""The full Keras model as benchmark subjects: `model.predict` and a compiled `tf.function`.

TensorFlow is imported inside `load`, in the measuring child process only: importing this module
costs nothing and the runtime never loads TensorFlow by itself. The `tf.function` subject is the
strong baseline: a graph traced once for a fixed input signature, no per-call Python overhead of
`predict` (which builds a dataset and a callback loop for every call).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgexray.bench.subjects import Subject
from edgexray.errors import EngineUnavailableError
from edgexray.extras import install_hint
from edgexray.postprocess import to_probabilities


def _keras_model(subject: Subject) -> Any:
    try:
        import tensorflow as tf
    except ImportError:
        raise EngineUnavailableError(
            f"TensorFlow is not installed: --keras needs {install_hint('export')}"
        ) from None
    if subject.threads is not None:
        # Must run before TensorFlow creates its thread pools, i.e. before any op.
        tf.config.threading.set_intra_op_parallelism_threads(subject.threads)
        tf.config.threading.set_inter_op_parallelism_threads(subject.threads)
    from edgexray_export.keras_loading import load_model_safely

    return load_model_safely(subject.path)


class KerasPredict(Subject):
    """`model.predict(batch)`: how most training notebooks run the model."""

    engine = "keras"

    def load(self) -> None:
        self.model = _keras_model(self)

    def infer(self, batch: np.ndarray) -> np.ndarray:
        raw = self.model.predict(batch, verbose=0, batch_size=len(batch))
        return to_probabilities(np.asarray(raw).reshape(len(batch), -1), self.card)


class KerasTFFunction(Subject):
    """The model called inside a `tf.function` with a fixed input signature (batch left open),
    traced during `load`."""

    engine = "tf.function"

    def load(self) -> None:
        import tensorflow as tf

        model = _keras_model(self)
        card = self.card
        spec = tf.TensorSpec(
            (None, card.input_height, card.input_width, card.input_channels), tf.float32
        )
        self.function = tf.function(
            lambda x: model(x, training=False), input_signature=[spec]
        ).get_concrete_function()

    def infer(self, batch: np.ndarray) -> np.ndarray:
        raw = self.function(batch.astype(np.float32, copy=False)).numpy()
        return to_probabilities(raw.reshape(len(batch), -1), self.card)
