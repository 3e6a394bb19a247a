"""`edgexray synth OUT`: write a synthetic chest X-ray image folder (demo data, not for clinical use).

Needs only numpy and Pillow, so it works without the [export] extra.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command()
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--classes",
    type=click.Choice(["binary", "three"]),
    default="binary",
    show_default=True,
    help="binary: NORMAL/PNEUMONIA; three: COVID/NORMAL/PNEUMONIA.",
)
@click.option(
    "--count", type=click.IntRange(min=1), default=100, show_default=True, help="Images per class."
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--min-side",
    type=click.IntRange(min=16),
    default=500,
    show_default=True,
    help="Smallest long side in pixels.",
)
@click.option(
    "--max-side",
    type=click.IntRange(min=16),
    default=2000,
    show_default=True,
    help="Largest long side in pixels.",
)
@click.option(
    "--difficulty",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Scales the lesions' strength down (1.0: the fine-tuned model's training set; 0.3: "
    "the demo seed CNN's).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Processes generating images (the images do not depend on it).",
)
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["mixed", "dicom"]),
    default="mixed",
    show_default=True,
    help="mixed: 8/16-bit PNG and JPEG; dicom: DICOM CR files, MONOCHROME1 and 2 mixed "
    "(needs the [dicom] extra).",
)
@click.option(
    "--not-chest",
    is_flag=True,
    help="Write what a chest model should refuse instead: COUNT images per non-chest category "
    "to OUT/<category>/, for measuring input checks (docs/input-checks.md).",
)
@click.option(
    "--chests",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="With --not-chest: turn these radiographs (a folder, searched recursively) upside down and "
    "invert them, instead of drawing new ones.",
)
def synth(
    out: Path,
    classes: str,
    count: int,
    seed: int,
    min_side: int,
    max_side: int,
    difficulty: float,
    workers: int,
    file_format: str,
    not_chest: bool,
    chests: Path | None,
) -> None:
    """Write COUNT synthetic radiographs per class to OUT/<CLASS>/ (8/16-bit PNG and JPEG).

    The same seed gives the same images. Demonstration data: NOT for clinical use.
    """
    if not_chest:
        _write_not_chest(out, count, seed, chests)
        return
    if chests is not None:
        raise click.UsageError("--chests goes with --not-chest")
    from edgexray_export.data.synthetic import CLASS_SETS, SynthConfig, write_dataset

    config = SynthConfig(
        CLASS_SETS[classes],
        count,
        seed,
        min_side,
        max_side,
        difficulty=difficulty,
        file_format=file_format,
    )
    total = count * len(config.classes)
    with click.progressbar(length=total, label="generating", file=sys.stderr) as bar:
        files = write_dataset(out, config, lambda done, _: bar.update(1), workers)
    click.echo(f"wrote {len(files)} images to {out} ({', '.join(config.classes)})")


def _write_not_chest(out: Path, count: int, seed: int, chests: Path | None) -> None:
    from edgexray_export.data.not_chest import write_not_chest

    files = sorted(p for p in chests.rglob("*") if p.is_file()) if chests is not None else []
    if chests is not None and not files:
        raise click.UsageError(f"--chests {chests}: no files")
    written = write_not_chest(out, count, seed, files)
    total = sum(len(paths) for paths in written.values())
    click.echo(f"wrote {total} images to {out} ({', '.join(written)})")
