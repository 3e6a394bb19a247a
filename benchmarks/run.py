"""The benchmark suite, one command: `python benchmarks/run.py`.

For each shipped model (models/cnn/seed_cnn.keras with its variants in models/demo,
models/finetune/*.keras with its variants beside it) it measures, on this
machine, each in its own process: the full Keras model (`model.predict` and a compiled
`tf.function`), every edgexray variant beside it, and the peers a user could run instead by hand
(plain LiteRT on the .tflite files, plain ONNX Runtime and OpenVINO on the .onnx files). It writes
benchmarks/RESULTS.md (machine, table, ratios against the Keras tf.function baseline and against
the fastest peer), a plot and the raw JSON per model. All figures of one file come from one run.

Any other model: `python benchmarks/run.py --suite NAME MODEL.keras VARIANTS_DIR [--data DIR]`.
Needs the [export] and [openvino] extras (TensorFlow for the Keras rows, openvino for its peer).
"""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import click

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from peers import PEER_NAMES, PEERS  # noqa: E402
from summary import write_results  # noqa: E402

from edgexray.atomic import write_text_atomically  # noqa: E402
from edgexray.bench.dataset import BenchData, load_bench_data  # noqa: E402
from edgexray.bench.measure import TimingPlan  # noqa: E402
from edgexray.bench.report import BenchReport  # noqa: E402
from edgexray.bench.runner import SubjectSpec  # noqa: E402
from edgexray.bench.suite import (  # noqa: E402
    assemble_report,
    keras_comparison,
    keras_specs,
    measure_all,
    preprocess_once,
    read_cards,
    variant_specs,
)
from edgexray.card import ModelCard  # noqa: E402

SHIPPED = (
    # The seed CNN's variants ship in the wheel as the demo model, so they live in models/demo.
    ("seed-cnn", ROOT / "models/cnn/seed_cnn.keras", ROOT / "models/demo"),
    ("finetune", None, ROOT / "models/finetune"),  # the one .keras file in that folder
)
# Held-out synthetic images: export/rebuild.py trains the shipped models on seed 2026 (images are
# seeded by seed, class and index), so another seed gives images none of them was trained on.
SYNTH_SEED = 7919


@dataclass(frozen=True)
class Suite:
    """name: for titles and file names. keras: the full model. variants: folder of exported files."""

    name: str
    keras: Path
    variants: Path


def shipped_suites() -> tuple[list[Suite], list[str]]:
    """(the shipped models found, the names of those missing)."""
    suites, missing = [], []
    for name, keras, folder in SHIPPED:
        if keras is None:
            found = sorted(folder.glob("*.keras")) if folder.is_dir() else []
            keras = found[0] if len(found) == 1 else None
        if keras is not None and keras.is_file() and variant_files(folder):
            suites.append(Suite(name, keras, folder))
        else:
            missing.append(f"{name} ({folder.relative_to(ROOT)})")
    return suites, missing


def variant_files(folder: Path) -> tuple[Path, ...]:
    return tuple(sorted([*folder.glob("*.tflite"), *folder.glob("*.onnx")]))


def peer_specs(models: tuple[Path, ...], names: list[str], card: ModelCard) -> list[SubjectSpec]:
    """Each peer on each model file it can read, named `peer:variant`."""
    specs = []
    for factory, suffix in PEERS.items():
        for model, variant in zip(models, names, strict=True):
            if model.suffix == suffix:
                specs.append(
                    SubjectSpec(
                        f"{PEER_NAMES[factory]}:{variant}",
                        factory,
                        model,
                        suffix.lstrip("."),
                        card,
                        "peer",
                        (str(HERE),),
                    )
                )
    return specs


def synthetic_data(labels: tuple[str, ...], per_class: int) -> Path:
    """Held-out synthetic radiographs for these labels, generated once into benchmarks/.cache."""
    from edgexray_export.data.synthetic import BINARY_CLASSES, SynthConfig, write_dataset
    from edgexray_export.rebuild import BINARY_DIFFICULTY

    # The same generator settings the shipped model was trained with (the binary set is easier),
    # only the seed differs.
    difficulty = BINARY_DIFFICULTY if tuple(labels) == BINARY_CLASSES else 1.0
    folder = HERE / ".cache" / f"synth-{'-'.join(labels)}-{per_class}-{SYNTH_SEED}-d{difficulty}"
    if not folder.is_dir():
        click.echo(f"generating {per_class} synthetic images per class in {folder}", err=True)
        config = SynthConfig(
            classes=labels, count=per_class, seed=SYNTH_SEED, difficulty=difficulty
        )
        write_dataset(folder, config, workers=2)
    return folder


def _stamp(path: Path) -> tuple[int, int] | None:
    """(size, modification time in ns), None for a file that is gone."""
    try:
        status = path.stat()
    except FileNotFoundError:
        return None
    return status.st_size, status.st_mtime_ns


def run_suite(
    suite: Suite, data_dir: Path | None, plan: TimingPlan, threads: int, per_class: int
) -> tuple[BenchReport, BenchData]:
    models = variant_files(suite.variants)
    # A row must describe one file: refuse a run during which a file was rewritten (re-export).
    stamps = {path: _stamp(path) for path in (*models, suite.keras)}
    cards = read_cards(models)
    card = cards[0]
    data = load_bench_data(data_dir or synthetic_data(card.labels, per_class), card.labels)
    variants = variant_specs(models, cards)
    specs = [*keras_specs(suite.keras, card), *variants]
    specs += peer_specs(models, [spec.name for spec in variants], card)

    def progress(line: str) -> None:
        click.echo(f"[{suite.name}] {line}", err=True)

    with tempfile.TemporaryDirectory(prefix="edgexray-benchmarks-") as folder:
        progress(f"preprocessing {len(data.files)} images")
        tensors = preprocess_once(data, cards, Path(folder))
        outcomes = measure_all(specs, data, plan, threads, progress, tensors)
    if any(_stamp(path) != stamp for path, stamp in stamps.items()):
        raise click.ClickException(
            f"model files in {suite.variants} changed during the run (an export in progress?); "
            "run again when they are stable"
        )
    return assemble_report(outcomes, data, keras_comparison(outcomes), plan, threads), data


@click.command()
@click.option(
    "--suite",
    "suites",
    type=(
        str,
        click.Path(path_type=Path, exists=True),
        click.Path(path_type=Path, exists=True, file_okay=False),
    ),
    multiple=True,
    help="NAME MODEL.keras VARIANTS_DIR instead of the shipped models (repeatable).",
)
@click.option(
    "--data",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    default=None,
    help="Image folder (default: held-out synthetic images, class sub-folders).",
)
@click.option(
    "--per-class",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Synthetic images per class when --data is not given.",
)
@click.option(
    "--threads", type=click.IntRange(min=1), default=os.cpu_count() or 1, show_default=True
)
@click.option("--runs", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--warmup", type=click.IntRange(min=0), default=10, show_default=True)
@click.option(
    "--processes",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Fresh processes per row, in rounds over all rows; each row reports its median one.",
)
@click.option("--batch-sizes", default="1,8", show_default=True)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=HERE / "RESULTS.md",
    show_default=True,
)
@click.option("--note", default="", help="A paragraph put at the top of RESULTS.md.")
def main(
    suites: tuple[tuple[str, Path, Path], ...],
    data: Path | None,
    per_class: int,
    threads: int,
    runs: int,
    warmup: int,
    processes: int,
    batch_sizes: str,
    out: Path,
    note: str,
) -> None:
    """Measure the shipped models against their peers and write RESULTS.md."""
    missing: list[str] = []
    chosen = [Suite(*s) for s in suites]
    if not chosen:
        chosen, missing = shipped_suites()
    if missing:
        note = " ".join(
            filter(
                None, [note, f"Not measured (model or variants not built): {', '.join(missing)}."]
            )
        )
    if not chosen:
        raise click.UsageError(
            "no shipped models found (models/cnn/seed_cnn.keras); give --suite NAME MODEL.keras DIR"
        )
    plan = TimingPlan(
        runs=runs,
        warmup=warmup,
        batch_sizes=tuple(int(b) for b in batch_sizes.split(",")),
        processes=processes,
    )
    load_before = os.getloadavg()
    reports = []
    for suite in chosen:
        report, _ = run_suite(suite, data, plan, threads, per_class)
        json_path = out.parent / f"results-{suite.name}.json"
        write_text_atomically(json_path, report.to_json())
        reports.append((suite, report))
    # The note is printed above; the command line only says one was given.
    arguments = [a for a in sys.argv[1:] if a != note]
    command = " ".join(["python benchmarks/run.py", *arguments])
    load = (load_before[0], os.getloadavg()[0])
    write_results(out, reports, command, note, load)
    click.echo(f"wrote {out}", err=True)


if __name__ == "__main__":
    main()
