"""edgexray's TensorFlow-side toolchain, installed as `edgexray_export`: export, training, data.

Needs the `[export]` extra (TensorFlow, tf2onnx, onnx). The device runtime never imports it.
"""
