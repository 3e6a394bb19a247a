"""`edgexray classify PATH...`: classify image files and folders with one model."""

from __future__ import annotations

import dataclasses
import re
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
from edgexray.card_resolution import CardOverrides
from edgexray.classifier import Classifier, ClassifierOptions
from edgexray.cli.dicom_results import dicom_result_options, result_folder_from
from edgexray.cli.explain import open_folder
from edgexray.cli.options import (
    audit_options,
    classifier_options_from,
    decision_options,
    model_or_demo,
    overrides_from,
    ray_options,
)
from edgexray.cli.writers import WRITERS, OutputFile, ResultWriter, display_path
from edgexray.demo import samples_folder
from edgexray.errors import EdgexrayError
from edgexray.explain.explainer import InputRejected, explain_judged
from edgexray.explain.files import ExplanationFolder
from edgexray.prediction import Judged, Prediction
from edgexray.preprocessing import discover_images
from edgexray.preprocessing.input_file import input_from_bytes
from edgexray.preprocessing.transform import DISPLAY_SIDE


def _progress(batches: Iterator[list[Judged]], total: int, show: bool) -> Iterator[list[Judged]]:
    if not show:
        yield from batches
        return
    with click.progressbar(length=total, label="classifying", file=sys.stderr) as bar:
        for batch in batches:
            yield batch
            bar.update(len(batch))


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


def _explain(classifier: Classifier, judged: Judged, folder: ExplanationFolder) -> None:
    """The explanation of a decision just written, made on the model input and film it was decided
    on (no second read or decode); an engine failure is one error line."""
    try:
        folder.write(explain_judged(classifier, judged))
    except InputRejected as exc:
        folder.write_unexplained(exc.prediction)
    except EdgexrayError as exc:
        error = dataclasses.replace(judged.prediction, error=str(exc))
        folder.write_unexplained(error)


STDIN = Path("-")
_RAY_ADDRESS = re.compile(r"^(auto|local|ray://\S+|[\w.\-\[\]:]+:\d+)$")


def _stdin_prediction(classifier: Classifier) -> Prediction:
    """The record for one image read whole from standard input (`classify -`), named "-": as a
    file's, with the SHA-256 of the bytes read and the model identity, failure included."""
    data = sys.stdin.buffer.read()
    if not data:
        return Prediction(model=classifier.identity, path="-", error="-: empty")
    return classifier.predict_batch([input_from_bytes(data, "-")])[0]


def ray_address_given(value: str) -> bool:
    """Whether the value after --ray names a cluster: host:port, ray://..., auto (or local)."""
    return bool(_RAY_ADDRESS.match(value))


@dataclasses.dataclass(frozen=True)
class _RayRun:
    """The flags that only `--ray` reads: where, into which file, how many actors, audit log, and
    the seconds to reach the cluster."""

    address: str
    output: Path | None
    actors: int | None
    audit: Path | None
    timeout: float


def _classify_on_ray(
    paths: tuple[Path, ...],
    model: Path,
    run: _RayRun,
    options: ClassifierOptions,
    overrides: CardOverrides,
) -> None:
    from edgexray.cli import ray_classify

    if STDIN in paths:
        raise click.BadParameter("--ray classifies files, not standard input", param_hint="PATHS")
    started = time.perf_counter()
    tally = ray_classify.classify_on_ray(
        paths,
        model,
        run.address,
        ray_classify.check_output(run.output),
        actors=run.actors,
        batch_size=options.batch_size,
        overrides=overrides,
        options=options,
        audit=run.audit,
        connect_timeout=run.timeout,
    )
    elapsed = time.perf_counter() - started
    click.echo(
        f"edgexray: {tally.classified} classified, {tally.failed} failed in {elapsed:.1f} s "
        f"({(tally.classified + tally.failed) / max(elapsed, 1e-9):.1f} images/s, Ray start included)",
        err=True,
    )
    metrics = tally.folders.metrics()
    if metrics is not None:  # the archive has class folders: how the model did on it
        click.echo(
            f"edgexray: {metrics.count} images in class folders: accuracy {metrics.accuracy:.4f}, "
            f"macro precision {metrics.macro_precision:.4f}, recall {metrics.macro_recall:.4f}, "
            f"F1 {metrics.macro_f1:.4f}",
            err=True,
        )
    if tally.failed:
        sys.exit(exit_codes.PARTIAL)


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path, allow_dash=True))
@decision_options
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
    help="Resize large images in two steps (2 is a good value): faster, pixels differ slightly "
    "from training's resize (docs/bench.md). Default: one step.",
)
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
    help="Write results to FILE instead of stdout (with --ray: FILE.parquet or FILE.jsonl, "
    "required).",
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
@audit_options
@ray_options
@dicom_result_options
def classify(
    paths: tuple[Path, ...],
    model: Path | None,
    batch_size: int,
    decode_workers: int | None,
    reducing_gap: float | None,
    output_format: str,
    output: Path | None,
    explain_dir: Path | None,
    explain_only: str | None,
    audit: Path | None,
    ray_address: str | None,
    actors: int | None,
    ray_timeout: float,
    **flags: Any,
) -> None:
    """Classify image files and folders (searched recursively for image files, DICOM included).

    With no PATH, classifies the bundled sample images; `-` reads one image from standard input
    (`cat scan.png | edgexray classify -`). Exit codes: 0 all classified, 1 fatal error,
    2 usage error, 3 some files failed or were rejected by the input checks (the others are still
    classified and written), 130
    interrupted (Ctrl-C or SIGTERM; the records written so far are complete), 141 the reader of
    the output went away (e.g. `| head`); the run stops quietly.
    """
    if ray_address is not None and not ray_address_given(ray_address):
        # `--ray images/`: click took the first PATH for the optional address
        paths, ray_address = (Path(ray_address), *paths), "local"
    if ray_address is not None and explain_dir is not None:
        raise click.BadParameter(
            "--explain does not work with --ray: the workers would write the overlays on their "
            "own disks; run `edgexray explain` on the images to explain (docs/scale.md)",
            param_hint="--ray",
        )
    model = model_or_demo(model)
    if not paths:
        paths = (samples_folder(),)
        click.echo(
            f"edgexray: no PATH given, classifying the sample images in {paths[0]}", err=True
        )
    overrides = overrides_from(flags)
    options = classifier_options_from(
        flags, batch_size=batch_size, decode_workers=decode_workers, reducing_gap=reducing_gap
    )
    if ray_address is not None:
        ray_run = _RayRun(ray_address, output, actors, audit, ray_timeout)
        _classify_on_ray(paths, model, ray_run, options, overrides)
        return
    classifier = Classifier(model, options, overrides)
    replaced = classifier.identity.describe_overrides()
    if replaced is not None:  # the table and CSV have no model column: say it once here
        click.echo(f"edgexray: card values replaced: {replaced}", err=True)
    dicom_results = result_folder_from(flags, classifier)
    if explain_only is not None and explain_only not in classifier.labels:
        raise click.BadParameter(
            f"{explain_only!r} is not one of the model's labels: {', '.join(classifier.labels)}",
            param_hint="'--explain-only'",
        )
    if list(paths).count(STDIN) > 1:
        raise click.BadParameter("standard input (-) can be given once", param_hint="PATHS")
    found = discover_images([p for p in paths if p != STDIN])
    failures = successes = rejections = 0
    started = time.perf_counter()
    with ExitStack() as stack:
        stack.callback(classifier.close)
        auditor = stack.enter_context(RunAudit.open(audit)) if audit else None
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
        writer: ResultWriter = WRITERS[output_format](stream, classifier.labels)
        output_closed = False
        try:
            if STDIN in paths:
                prediction = _stdin_prediction(classifier)
                writer.write(prediction)
                if auditor:
                    auditor.record(prediction)
                successes, failures = (
                    (successes + 1, failures) if prediction.ok else (successes, failures + 1)
                )
            for path, problem in found.problems:
                writer.write(
                    Prediction(
                        model=classifier.identity,
                        path=str(path),
                        error=f"{display_path(str(path))}: {problem}",
                    )
                )
                failures += 1
            show = sys.stderr.isatty() and (output is not None or not sys.stdout.isatty())
            # With --explain, each decision keeps its film: one read and one decode per image.
            film_side = DISPLAY_SIDE if explanations else None
            batches = classifier.iter_judged_batches(found.files, film_side)  # options' size
            for batch in _progress(batches, len(found.files), show):
                if auditor:  # before the answers: none is written without its audit line
                    auditor.record_batch([judged.prediction for judged in batch])
                for judged in batch:
                    prediction = judged.prediction
                    writer.write(prediction)
                    if explanations and prediction.ok and explain_only in (None, prediction.label):
                        _explain(classifier, judged, explanations)
                    unwritten = dicom_results.write(prediction) if dicom_results else None
                    if unwritten:
                        click.echo(f"edgexray: no DICOM result: {unwritten}", err=True)
                        failures += 1
                    elif prediction.ok:
                        successes += 1
                    elif prediction.rejected is not None:
                        rejections += 1
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
                    f"edgexray: {successes} classified, "
                    + (f"{rejections} rejected, " if rejections else "")
                    + f"{failures} failed"
                    + _pace(time.perf_counter() - started, successes),
                    err=True,
                )
    if failures or rejections:
        sys.exit(exit_codes.PARTIAL)
