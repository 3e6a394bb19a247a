"""`edgexray evaluate MODEL DATA`: accuracy, precision, recall, F1 and confusion matrix of a Keras model.

Needs the `[export]` extra (TensorFlow), imported only when the command runs.
"""

from __future__ import annotations

from pathlib import Path

import click
from edgexray_export.cli.toolchain import require_export_extra, trust_model_option
from edgexray_export.cli.train import split_options


@click.command()
@click.argument("model", type=click.Path(exists=True, path_type=Path))
@click.argument("data", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--split",
    "split_name",
    type=click.Choice(["test", "val", "train", "all"]),
    default="test",
    show_default=True,
    help="Which part of DATA to evaluate.",
)
@click.option(
    "--threshold",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=None,
    help="Binary decision threshold (default: the one chosen in training).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Report path without suffix: writes .json and .png (default: next to MODEL).",
)
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True)
@split_options
@trust_model_option
def evaluate(
    model: Path,
    data: Path,
    split_name: str,
    threshold: float | None,
    output: Path | None,
    workers: int,
    seed: int,
    val_fraction: float,
    test_fraction: float,
    trust_model: bool,
) -> None:
    """Evaluate MODEL (.keras, .h5) on the test split of DATA, split exactly as in training.

    The split seed and fractions default to those the model was trained with.
    """
    require_export_extra()
    from edgexray_export.data.folders import SplitConfig, scan_folder
    from edgexray_export.training.evaluate import evaluate_model, write_report
    from edgexray_export.training.train import read_training_info

    split = SplitConfig(val_fraction, test_fraction, seed)
    info = read_training_info(model)
    context = click.get_current_context()
    given = {
        name
        for name in ("seed", "val_fraction", "test_fraction")
        if context.get_parameter_source(name) != click.core.ParameterSource.DEFAULT
    }
    if info and "split" in info and not given:
        split = SplitConfig(**info["split"])
    report = evaluate_model(
        model, scan_folder(data, split), split_name, threshold, workers, trust_model=trust_model
    )
    stem = output or model.with_suffix("").with_name(model.stem + f".eval-{split_name}")
    json_path, png_path = write_report(report, stem)
    click.echo(report.summary())
    click.echo(f"wrote {json_path} and {png_path}")
