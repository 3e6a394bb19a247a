"""`edgexray train cnn|finetune DATA -o model.keras`: train the seed CNN or the fine-tuned model.

Needs the `[export]` extra (TensorFlow); it is imported only when a command runs, so the runtime CLI
starts without it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click
from edgexray_export.cli.toolchain import require_export_extra

from edgexray.card import NORMALIZATIONS

if TYPE_CHECKING:  # pragma: no cover
    from edgexray.card import Normalize

F = TypeVar("F", bound=Callable[..., Any])


def split_options(function: F) -> F:
    """--seed, --val-fraction and --test-fraction: how an unsplit folder is split (and shuffled)."""
    for option in reversed(
        [
            click.option(
                "--seed",
                type=int,
                default=0,
                show_default=True,
                help="Seed for the split, the shuffling and the weights.",
            ),
            click.option(
                "--val-fraction",
                type=click.FloatRange(0, 1),
                default=0.15,
                show_default=True,
                help="Share of each class for validation.",
            ),
            click.option(
                "--test-fraction",
                type=click.FloatRange(0, 1),
                default=0.15,
                show_default=True,
                help="Share of each class held out for testing.",
            ),
        ]
    ):
        function = option(function)
    return function


def _fit_options(epochs: int, learning_rate: float) -> Callable[[F], F]:
    def decorate(function: F) -> F:
        for option in reversed(
            [
                click.option(
                    "-o",
                    "--output",
                    type=click.Path(path_type=Path, dir_okay=False),
                    default=Path("model.keras"),
                    show_default=True,
                    help="Model file to write (.keras); history and info go next to it.",
                ),
                click.option(
                    "--epochs",
                    type=click.IntRange(min=1),
                    default=epochs,
                    show_default=True,
                    help="Most epochs (early stopping may end sooner).",
                ),
                click.option(
                    "--batch-size", type=click.IntRange(min=1), default=32, show_default=True
                ),
                click.option(
                    "--learning-rate",
                    type=float,
                    default=learning_rate,
                    show_default=True,
                    help="Adam learning rate.",
                ),
                click.option(
                    "--patience",
                    type=click.IntRange(min=1),
                    default=3,
                    show_default=True,
                    help="Epochs without val_loss gain before stopping.",
                ),
                click.option(
                    "--recall-floor",
                    type=click.FloatRange(0, 1, min_open=True),
                    default=None,
                    help="Binary: highest threshold keeping this recall "
                    "on validation (default: threshold of best F1).",
                ),
                click.option(
                    "--workers",
                    type=click.IntRange(min=1),
                    default=2,
                    show_default=True,
                    help="Threads decoding images.",
                ),
            ]
        ):
            function = option(function)
        return split_options(function)

    return decorate


def _common(params: dict[str, Any]) -> tuple[Any, Any, Any]:
    """(FolderDataset, FitConfig, RunConfig) from the shared options."""
    from edgexray_export.data.folders import SplitConfig, scan_folder
    from edgexray_export.training.threshold import ThresholdRule
    from edgexray_export.training.train import FitConfig, RunConfig

    data = scan_folder(
        params["data"],
        SplitConfig(params["val_fraction"], params["test_fraction"], params["seed"]),
    )
    fit = FitConfig(
        params["epochs"], params["batch_size"], params["learning_rate"], params["patience"]
    )
    run = RunConfig(params["seed"], params["workers"], ThresholdRule(params["recall_floor"]))
    return data, fit, run


def _report(result: Any) -> None:
    threshold = "" if result.threshold is None else f", threshold {result.threshold:.4f}"
    click.echo(
        f"wrote {result.model_path} ({result.epochs_run} epochs, {result.seconds:.0f}s{threshold}); "
        f"history {result.history_path.name}, info {result.info_path.name}"
    )


@click.group()
def train() -> None:
    """Train a classifier on an image folder (needs the [export] extra).

    DATA is root/<class>/* (split by --seed) or root/{train,val,test}/<class>/*.
    """


@train.command()
@click.argument("data", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--input-size",
    type=click.IntRange(min=16),
    default=256,
    show_default=True,
    help="Square input side in pixels (the seed model: 256).",
)
@click.option(
    "--normalize",
    type=click.Choice(NORMALIZATIONS),
    default=None,
    help="Pixel scaling (default: imagenet, zero-centred; see edgexray_export.training.train).",
)
@_fit_options(epochs=20, learning_rate=1e-3)
def cnn(input_size: int, normalize: str | None, **params: Any) -> None:
    """The seed vanilla CNN (grayscale, 117,505 parameters with a binary head)."""
    require_export_extra()
    from edgexray_export.training.train import SEED_CNN_NORMALIZE, train_cnn

    data, fit, run = _common(params)
    size = (input_size, input_size)
    scaling = cast("Normalize", normalize or SEED_CNN_NORMALIZE)
    _report(train_cnn(data, params["output"], fit, run, size, scaling))


@train.command()
@click.argument("data", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--backbone",
    type=click.Choice(["mobilenetv2", "efficientnet-lite0"]),
    default="mobilenetv2",
    show_default=True,
)
@click.option(
    "--weights",
    "--backbone-weights",
    default="imagenet",
    show_default=True,
    help="imagenet (MobileNetV2: downloaded; EfficientNet-Lite0: the checkpoint in "
    "$EDGEXRAY_LITE0_WEIGHTS), none (from scratch) or the path of a weights file "
    "(Lite0: the PyTorch .pth).",
)
@click.option("--alpha", type=float, default=0.35, show_default=True, help="MobileNetV2 width.")
@click.option("--input-size", type=click.IntRange(min=32), default=160, show_default=True)
@click.option(
    "--fine-tune-layers",
    type=click.IntRange(min=0),
    default=None,
    help="Top backbone layers trained after the head (0: head only; default: 30 for MobileNetV2, "
    "38 for Lite0, its last four blocks).",
)
@click.option("--fine-tune-epochs", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--fine-tune-learning-rate", type=float, default=1e-5, show_default=True)
@_fit_options(epochs=20, learning_rate=1e-3)
def finetune(
    backbone: str,
    weights: str,
    alpha: float,
    input_size: int,
    fine_tune_layers: int | None,
    fine_tune_epochs: int,
    fine_tune_learning_rate: float,
    **params: Any,
) -> None:
    """A pretrained backbone with a new head: head first, then the top layers at a lower rate."""
    require_export_extra()
    from edgexray_export.training.architectures import (
        FINE_TUNE_LAYERS,
        BackboneWeights,
        FinetuneSpec,
    )
    from edgexray_export.training.train import FinetuneConfig, FitConfig, train_finetune

    data, fit, run = _common(params)
    if fine_tune_layers is None:
        fine_tune_layers = FINE_TUNE_LAYERS[backbone]
    config = FinetuneConfig(
        spec=FinetuneSpec(input_size, input_size, alpha, backbone=backbone),
        weights=BackboneWeights(weights),
        head=fit,
        fine_tune=FitConfig(
            fine_tune_epochs, fit.batch_size, fine_tune_learning_rate, fit.patience
        ),
        fine_tune_layers=fine_tune_layers,
    )
    _report(train_finetune(data, params["output"], config, run))
