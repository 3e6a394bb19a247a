"""The check every workstation command makes before anything slow: is the [export] extra there?"""

from __future__ import annotations

import importlib

import click
from edgexray_export.errors import ExportError

from edgexray.extras import install_hint

# What the [export] extra brings that training and evaluation need; export needs the converters too.
TRAINING_MODULES = ("tensorflow", "keras")
EXPORT_MODULES = (*TRAINING_MODULES, "tf2onnx", "onnx", "onnxruntime")


def require_export_extra(modules: tuple[str, ...] = TRAINING_MODULES) -> None:
    """ExportError (one line, exit 1) naming the first missing module and the pip command."""
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError:
            raise ExportError(
                f"this command needs the export toolchain ({module} is missing): "
                + install_hint("export")
            ) from None


trust_model_option = click.option(
    "--trust-model",
    is_flag=True,
    help="Load MODEL even if it holds Lambda or custom layers (their code runs): "
    "only for files whose origin you trust.",
)
