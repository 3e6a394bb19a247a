"""`edgexray explain [-m MODEL] PATH... -o DIR`: where the model looked, per image, as files in DIR
(without -m, the bundled demo model, as for classify).

On the device, through the model's own engine (any variant, int8 included): the class evidence of
a model exported with it (one inference), occlusion otherwise or when asked for. With
`--keras` (or a .keras/.h5 model) on the workstation: Grad-CAM on the Keras model, run by the
export side, which this module names but never imports unless asked (the runtime has no TensorFlow).
"""

from __future__ import annotations

import importlib
import json
import sys
import warnings
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from edgexray import exit_codes
from edgexray.card_resolution import CardOverrides
from edgexray.classifier import Classifier
from edgexray.cli.options import (
    classifier_options_from,
    decision_options,
    model_or_demo,
    overrides_from,
)
from edgexray.cli.writers import display_path
from edgexray.errors import EdgexrayError, NoClassEvidenceError, UntrustedModelError
from edgexray.explain.explainer import (
    METHODS,
    Explanation,
    InputRejected,
    check_target,
    resolve_method,
)
from edgexray.explain.files import ExplanationFolder
from edgexray.explain.occlusion import MODES, OcclusionConfig
from edgexray.extras import install_hint
from edgexray.model_identity import ModelIdentity
from edgexray.prediction import Prediction
from edgexray.preprocessing import discover_images
from edgexray.preprocessing.dicom import DicomOptions

# The workstation's Grad-CAM, by name: importing it needs TensorFlow and the export side.
KERAS_EXPLAINER = "edgexray_export.explain.keras_explainer:KerasExplainer"
KERAS_SUFFIXES = (".keras", ".h5")
#: The workstation's methods (edgexray_export.explain.gradcam.METHODS, named here for the same reason).
KERAS_METHODS = ("gradcam", "gradcam++")

ExplainOne = Callable[[Path, "str | None"], Explanation]


@dataclass(frozen=True)
class Explainer:
    """What the command explains with: the model's labels, its identity (for the records of the
    images it could not explain; None for a Keras model) and one image's explanation."""

    labels: tuple[str, ...]
    identity: ModelIdentity | None
    explain: ExplainOne


@dataclass
class Tally:
    explained: int = 0
    rejected: int = 0
    failed: int = 0


def explain_files(
    explainer: Explainer, paths: list[Path], folder: ExplanationFolder, target: str | None
) -> Tally:
    """Explain every image under `paths` into `folder`, one JSON line per image on stdout: the
    classify record plus the explanation; for an image refused by the input checks or one that
    failed, the classify record alone (and no map). A bad image costs only its own record."""
    found = discover_images(paths)
    tally = Tally()
    for path, problem in found.problems:
        error = f"{display_path(str(path))}: {problem}"
        _echo(folder.write_unexplained(_failure(explainer, path, error)))
        tally.failed += 1
    for path in found.files:
        try:
            record = folder.write(explainer.explain(path, target))
            tally.explained += 1
        except InputRejected as exc:
            record = folder.write_unexplained(exc.prediction)
            tally.rejected += 1
        except EdgexrayError as exc:  # a bad image (or an engine failure) costs only this one
            failure = _failure(
                explainer,
                path,
                str(exc),
                getattr(exc, "source", None),
                getattr(exc, "sha256", None),
            )
            record = folder.write_unexplained(failure)
            tally.failed += 1
        _echo(record)
    return tally


def _failure(
    explainer: Explainer,
    path: Path,
    error: str,
    source: Mapping[str, Any] | None = None,
    sha256: str | None = None,
) -> Prediction:
    """The record of an image that could not be explained, as classify records it."""
    return Prediction(
        model=explainer.identity, path=str(path), error=error, source=source, sha256=sha256
    )


def _echo(record: dict[str, Any]) -> None:
    click.echo(json.dumps(record, ensure_ascii=False))


def open_folder(out_dir: Path, option: str) -> ExplanationFolder:
    """The output folder, or a usage error naming `option` when it cannot be written."""
    try:
        return ExplanationFolder(out_dir)
    except OSError as exc:
        raise click.BadParameter(
            f"cannot write {display_path(str(out_dir))}: {exc.strerror or exc}", param_hint=option
        ) from None


def _keras_explainer(
    model: Path, method: str, overrides: CardOverrides, dicom: DicomOptions
) -> Any:
    module_name, attribute = KERAS_EXPLAINER.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise EdgexrayError(
            f"explaining a Keras model needs the export extra ({install_hint('export')}): {exc}"
        ) from None
    return getattr(module, attribute)(model, method, overrides, dicom)


def _check_class(target: str | None, labels: tuple[str, ...]) -> None:
    try:
        check_target(target, labels)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--class'") from None


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@decision_options
@click.option(
    "-o",
    "--output",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder for the overlays, maps and records (created if missing).",
)
@click.option(
    "--class", "target", default=None, help="Explain this label (default: the decided one)."
)
@click.option(
    "--steps",
    type=click.IntRange(2, 64),
    default=OcclusionConfig.steps,
    show_default=True,
    help="Occlusion: window positions per side (the cost grows with its square).",
)
@click.option(
    "--mode",
    type=click.Choice(MODES),
    default=OcclusionConfig.mode,
    show_default=True,
    help="Occlusion: keep one window (default), delete one window, or both (docs/explain.md).",
)
@click.option(
    "--keras",
    is_flag=True,
    help="-m is a Keras model (.keras, .h5): Grad-CAM on the workstation ([export] extra; no "
    "input checks; refused under a trust policy). docs/explain.md.",
)
@click.option(
    "--method",
    type=click.Choice([*METHODS, *KERAS_METHODS]),
    default="auto",
    show_default=True,
    help="auto: class evidence when the model has it (one inference), else occlusion; "
    "gradcam or gradcam++ with --keras (auto: gradcam). docs/explain.md.",
)
def explain(
    paths: tuple[Path, ...],
    model: Path | None,
    out_dir: Path,
    target: str | None,
    steps: int,
    mode: str,
    keras: bool,
    method: str,
    **flags: Any,
) -> None:
    """Explain each image's decision: overlay PNG, raw map (.npy) and JSON record in DIR.

    The decision is classify's: same input checks, trust policy, DICOM options and card
    overrides, and the same record, plus the explanation's fields. Prints one JSON record per
    image. Exit codes: 0 all explained, 1 fatal error, 2 usage error, 3 some images failed or were
    refused by the input checks (each has its record and no map; the others are explained).
    """
    overrides = overrides_from(flags)
    options = classifier_options_from(flags)
    if keras and model is None:
        raise click.UsageError("--keras needs -m MODEL (a .keras or .h5 file): it has no default")
    model = model_or_demo(model)
    on_keras = keras or model.suffix.lower() in KERAS_SUFFIXES
    if on_keras and method not in ("auto", *KERAS_METHODS):
        raise click.BadParameter(
            f"{method} runs on exported models; a Keras model takes gradcam or gradcam++",
            param_hint="'--method'",
        )
    if not on_keras and method in KERAS_METHODS:
        raise click.BadParameter(
            f"{method} runs on a Keras model (--keras); an exported model takes "
            + ", ".join(METHODS),
            param_hint="'--method'",
        )
    with ExitStack() as stack:
        explainer: Explainer
        if on_keras:
            if options.trusted_keys:
                raise UntrustedModelError(
                    f"{model}: refused: a Keras model cannot be signed, and a trust policy is set "
                    "(--trusted-key or EDGEXRAY_TRUSTED_KEYS)"
                )
            keras_method = KERAS_METHODS[0] if method == "auto" else method
            keras_explainer = _keras_explainer(model, keras_method, overrides, options.dicom)
            explainer = Explainer(keras_explainer.labels, None, keras_explainer.explain)
        else:
            clf = stack.enter_context(Classifier(model, options, overrides))
            try:
                resolve_method(method, clf.has_class_evidence)
            except NoClassEvidenceError as exc:
                raise click.BadParameter(str(exc), param_hint="'--method'") from None
            config = OcclusionConfig(steps=steps, mode=mode)
            explainer = Explainer(
                clf.labels,
                clf.identity,
                lambda path, label: clf.explain(path, label, config, method),
            )
        _check_class(target, explainer.labels)
        folder = stack.enter_context(open_folder(out_dir, "'-o' / '--output'"))
        stack.enter_context(warnings.catch_warnings())
        warnings.filterwarnings("ignore", module=r"PIL\.")
        tally = explain_files(explainer, list(paths), folder, target)
    click.echo(
        f"edgexray: {tally.explained} explained, "
        + (f"{tally.rejected} rejected, " if tally.rejected else "")
        + f"{tally.failed} failed, written to {out_dir}",
        err=True,
    )
    if tally.failed or tally.rejected:
        sys.exit(exit_codes.PARTIAL)
