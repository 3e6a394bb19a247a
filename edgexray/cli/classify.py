"""`edgexray classify PATH...`: classify image files and folders with one model."""

from __future__ import annotations

import dataclasses
import hashlib
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any, TextIO

import click

from edgexray import exit_codes
from edgexray.audit import RunAudit
from edgexray.classifier import Classifier, ClassifierOptions
from edgexray.cli.explain import open_folder
from edgexray.cli.options import (
    audit_option,
    card_override_options,
    dicom_options,
    dicom_options_from,
    engine_option,
    model_option,
    model_or_demo,
    overrides_from,
    run_settings,
    threads_option,
)
from edgexray.cli.writers import WRITERS, OutputFile, ResultWriter, display_path
from edgexray.demo import samples_folder
from edgexray.errors import EdgexrayError, EngineError, ImageError
from edgexray.explain.files import ExplanationFolder
from edgexray.prediction import Prediction
from edgexray.preprocessing import discover_images


def _progress(predictions: Iterator[Prediction], total: int, show: bool) -> Iterator[Prediction]:
    if not show:
        yield from predictions
        return
    with click.progressbar(predictions, length=total, label="classifying", file=sys.stderr) as bar:
        yield from bar


def _pace(seconds: float, classified: int) -> str:
    """ " in 2.1 s (4.2 ms per image)" for the summary line: decoding and inference, model load
    excluded, so a device's figure can be read off any run."""
    if classified == 0:
        return ""
    return f" in {seconds:.2f} s ({seconds * 1000 / classified:.1f} ms per image)"


def _open_output(path: Path, output_format: str) -> OutputFile:
    try:
        return OutputFile(path, atomic=output_format == "json")
    except OSError as exc:  # a missing or read-only folder: a bad --output, found before any work
        raise click.BadParameter(
            f"cannot write {display_path(str(path))}: {exc.strerror or exc}",
            param_hint="'-o' / '--output'",
        ) from None


def _explain(classifier: Classifier, prediction: Prediction, folder: ExplanationFolder) -> None:
    """The explanation of a decision just written; a file that changed since is one error line."""
    if prediction.path in (None, "-"):  # standard input was read once: nothing left to show
        return
    try:
        folder.write(classifier.explain(prediction.path))
    except EdgexrayError as exc:
        folder.write_error(prediction.path, str(exc))


STDIN = Path("-")


def _stdin_prediction(classifier: Classifier) -> tuple[Prediction, str]:
    """The record for one image read whole from standard input (`classify -`), named "-", and
    the SHA-256 of the bytes read (for the audit log)."""
    data = sys.stdin.buffer.read()
    digest = hashlib.sha256(data).hexdigest()
    try:
        return dataclasses.replace(classifier.predict(data), path="-"), digest
    except (ImageError, EngineError) as exc:
        message = str(exc).removeprefix("image data: ")
        return Prediction(path="-", error=f"-: {message}"), digest


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path, allow_dash=True))
@model_option
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="Images per engine call.",
)
@click.option(
    "--decode-workers",
    type=click.IntRange(min=0),
    default=None,
    help="Threads that decode the next images while the model runs (default: one per core; "
    "0: decode in turn).",
)
@click.option(
    "--reducing-gap",
    type=click.FloatRange(min=1.0),
    default=None,
    help="Resize large images in two steps, as Pillow's reducing_gap (2 is a good value): "
    "faster, pixels differ slightly from training's one-step resize; measure the agreement "
    "on your data first (README, 'Faster decoding'). Default: one step.",
)
@threads_option
@engine_option
@click.option(
    "--format",
    "output_format",
    type=click.Choice(sorted(WRITERS)),
    default="table",
    show_default=True,
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write results to FILE instead of stdout.",
)
@click.option(
    "--explain",
    "explain_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Also write an explanation (overlay PNG, map, record) of each decision into DIR "
    "(see `edgexray explain`).",
)
@click.option(
    "--explain-only",
    default=None,
    help="With --explain: only for images decided as this label (e.g. PNEUMONIA).",
)
@audit_option
@card_override_options
@dicom_options
def classify(
    paths: tuple[Path, ...],
    model: Path | None,
    batch_size: int,
    decode_workers: int | None,
    reducing_gap: float | None,
    threads: int | None,
    engine: str | None,
    output_format: str,
    output: Path | None,
    explain_dir: Path | None,
    explain_only: str | None,
    audit: Path | None,
    **flags: Any,
) -> None:
    """Classify image files and folders (searched recursively for image files, DICOM included).

    With no PATH, classifies the bundled sample images; `-` reads one image from standard input
    (`cat scan.png | edgexray classify -`). Exit codes: 0 all classified, 1 fatal error,
    2 usage error, 3 some files failed (the others are still classified and written), 130
    interrupted (Ctrl-C or SIGTERM; the records written so far are complete), 141 the reader of
    the output went away (e.g. `| head`); the run stops quietly.
    """
    model = model_or_demo(model)
    if not paths:
        paths = (samples_folder(),)
        click.echo(
            f"edgexray: no PATH given, classifying the sample images in {paths[0]}", err=True
        )
    options = ClassifierOptions(
        threads=threads,
        engine=engine,
        batch_size=batch_size,
        decode_workers=decode_workers,
        reducing_gap=reducing_gap,
        verbose=run_settings().verbose,
        dicom=dicom_options_from(flags),
    )
    classifier = Classifier(model, options, overrides_from(flags))
    if explain_only is not None and explain_only not in classifier.labels:
        raise click.BadParameter(
            f"{explain_only!r} is not one of the model's labels: {', '.join(classifier.labels)}",
            param_hint="'--explain-only'",
        )
    if list(paths).count(STDIN) > 1:
        raise click.BadParameter("standard input (-) can be given once", param_hint="PATHS")
    found = discover_images([p for p in paths if p != STDIN])
    width = max(
        [len(display_path(str(p))) for p in (*found.files, *(p for p, _ in found.problems))] + [4]
    )
    failures = successes = 0
    started = time.perf_counter()
    with ExitStack() as stack:
        stack.callback(classifier.close)
        auditor = stack.enter_context(RunAudit.open(audit, classifier)) if audit else None
        # Pillow warns about odd files it still decodes (corrupt EXIF, large images our own limit then
        # refuses) with multi-line messages that name no file; each file's record says what matters.
        stack.enter_context(warnings.catch_warnings())
        warnings.filterwarnings("ignore", module=r"PIL\.")
        # pydicom warns about non-conformant files it still reads; a warning could quote an
        # element's value, and records must never carry patient data.
        warnings.filterwarnings("ignore", module=r"pydicom")
        destination = _open_output(output, output_format) if output else None
        explanations = (
            stack.enter_context(open_folder(explain_dir, "'--explain'")) if explain_dir else None
        )
        stream: TextIO = destination.stream if destination else sys.stdout
        writer: ResultWriter = WRITERS[output_format](stream, classifier.labels, min(width, 80))
        output_closed = False
        try:
            if STDIN in paths:
                prediction, digest = _stdin_prediction(classifier)
                writer.write(prediction)
                if auditor:
                    auditor.record(prediction, digest)
                successes, failures = (
                    (successes + 1, failures) if prediction.ok else (successes, failures + 1)
                )
            for path, problem in found.problems:
                writer.write(
                    Prediction(path=str(path), error=f"{display_path(str(path))}: {problem}")
                )
                failures += 1
            show = sys.stderr.isatty() and (output is not None or not sys.stdout.isatty())
            predictions = classifier.iter_predictions(found.files)  # options' batch size
            for prediction in _progress(predictions, len(found.files), show):
                writer.write(prediction)
                if explanations and prediction.ok and explain_only in (None, prediction.label):
                    _explain(classifier, prediction, explanations)
                if auditor:
                    auditor.record(prediction)
                if prediction.ok:
                    successes += 1
                else:
                    failures += 1
        except BrokenPipeError:
            # The reader of stdout left (`| head`): no document to close, no summary; main() ends
            # the run quietly.
            output_closed = True
            raise
        finally:
            if not output_closed:
                # Also on Ctrl-C/SIGTERM: finished records are kept and the document is closed.
                writer.close()
                if destination:
                    destination.commit()
                click.echo(
                    f"edgexray: {successes} classified, {failures} failed"
                    + _pace(time.perf_counter() - started, successes),
                    err=True,
                )
    if failures:
        sys.exit(exit_codes.PARTIAL)
