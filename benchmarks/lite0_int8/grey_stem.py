"""Fold the stem's RGB weights into their channel mean (exact on R=G=B input); save to OUT."""

import sys

import keras
import numpy as np

model = keras.saving.load_model(sys.argv[1], compile=False)
stem = model.get_layer("backbone").get_layer("stem_conv")
(w,) = stem.get_weights()
stem.set_weights([np.repeat(w.mean(axis=2, keepdims=True), 3, axis=2)])
model.save(sys.argv[2])
print("saved", sys.argv[2])
