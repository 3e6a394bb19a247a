"""Explanations on the workstation: Grad-CAM on the full Keras model, and how explanations are
measured against the lesions the synthetic generator drew."""
