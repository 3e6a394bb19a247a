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
def synth(
    out: Path,
    classes: str,
    count: int,
    seed: int,
    min_side: int,
    max_side: int,
    workers: int,
    file_format: str,
) -> None:
    """Write COUNT synthetic radiographs per class to OUT/<CLASS>/ (8/16-bit PNG and JPEG).

    The same seed gives the same images. Demonstration data: NOT for clinical use.
    """
    from edgexray_export.data.synthetic import CLASS_SETS, SynthConfig, write_dataset

    config = SynthConfig(
        CLASS_SETS[classes], count, seed, min_side, max_side, file_format=file_format
    )
    total = count * len(config.classes)
    with click.progressbar(length=total, label="generating", file=sys.stderr) as bar:
        files = write_dataset(out, config, lambda done, _: bar.update(1), workers)
    click.echo(f"wrote {len(files)} images to {out} ({', '.join(config.classes)})")
