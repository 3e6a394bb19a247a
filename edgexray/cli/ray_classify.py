"""`edgexray classify --ray [ADDRESS]`: the CLI glue around edgexray.scale (Ray session, output
file, progress). The work itself is edgexray.scale.classify_dataset."""

from __future__ import annotations

import io
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click

from edgexray.card_resolution import CardOverrides
from edgexray.cores import usable_cores
from edgexray.errors import EdgexrayError
from edgexray.prediction import Prediction
from edgexray.preprocessing import discover_images
from edgexray.records import display_path

if TYPE_CHECKING:
    from edgexray.scale import FolderConfusion

LOCAL = "local"  # `--ray` without an address
OUTPUT_SUFFIXES = (".parquet", ".jsonl")


def check_output(output: Path | None) -> Path:
    if output is None or output.suffix.lower() not in OUTPUT_SUFFIXES:
        raise click.BadParameter(
            "--ray writes its records to a file: give -o results.parquet or -o results.jsonl",
            param_hint="'-o' / '--output'",
        )
    return output


@contextmanager
def ray_session(address: str) -> Iterator[int]:
    """Connect to the cluster at `address` (or RAY_ADDRESS), else start a local Ray with the cores
    this process may use; yields the cluster's CPU count; disconnects (and stops a local Ray)."""
    import ray

    join = address if address != LOCAL else os.environ.get("RAY_ADDRESS")
    quiet: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False}
    try:
        if join:
            ray.init(address=join, **quiet)
        else:
            # "local": a new instance, never one some other `ray start` left on this machine
            ray.init(address="local", num_cpus=usable_cores(), include_dashboard=False, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"connect to Ray at {join}" if join else "start a local Ray"
        raise EdgexrayError(f"cannot {where}: {exc}") from None
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # ours shows images/s; Ray's would interleave with it
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    try:
        yield int(ray.cluster_resources().get("CPU", 1))
    finally:
        ray.shutdown()


class RecordFile:
    """Records to one Parquet file (row groups as they come) or one JSONL file (a line each)."""

    def __init__(self, path: Path, schema: Any) -> None:
        self.path = path
        self._parquet: Any = None
        self._jsonl: TextIO | None = None
        if path.suffix.lower() == ".parquet":
            import pyarrow.parquet as pq

            self._parquet = pq.ParquetWriter(path, schema)
        else:
            self._jsonl = open(path, "w", encoding="utf-8")  # noqa: SIM115

    def write(self, table: Any) -> None:
        from edgexray.scale import row_to_record

        if self._parquet is not None:
            self._parquet.write_table(table)
        elif self._jsonl is not None:
            for row in table.to_pylist():
                self._jsonl.write(json.dumps(row_to_record(row), ensure_ascii=False) + "\n")
            self._jsonl.flush()

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
        if self._jsonl is not None:
            self._jsonl.close()


@dataclass
class Tally:
    """Records written, and the confusion of those in class folders (edgexray.scale.evaluation)."""

    folders: FolderConfusion
    classified: int = 0
    failed: int = 0

    def add(self, table: Any) -> None:
        ok = table.column("error").null_count
        self.classified += ok
        self.failed += table.num_rows - ok
        self.folders.add(table)


def _encodable(path: Path) -> bool:
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _problems(found_problems: list[tuple[Path, str]], files: list[Path]) -> list[Prediction]:
    """Error records made on the driver: paths that gave no image, names Arrow cannot carry."""
    problems = [
        Prediction(path=str(p), error=f"{display_path(str(p))}: {why}") for p, why in found_problems
    ]
    for path in files:
        if not _encodable(path):  # Arrow strings are UTF-8: this name cannot travel to a worker
            name = display_path(str(path))
            problems.append(Prediction(path=str(path), error=f"{name}: file name is not UTF-8"))
    return problems


def _stream(records: Any, destination: RecordFile, tally: Tally, total: int, show: bool) -> None:
    """Write the records as Ray yields them, with a progress bar showing images per second."""
    started = time.perf_counter()
    with click.progressbar(
        length=total,
        label="classifying",
        file=sys.stderr if show else io.StringIO(),
        show_pos=True,
        item_show_func=lambda rate: rate,
    ) as bar:
        for table in records.iter_batches(batch_size=None, batch_format="pyarrow"):
            destination.write(table)
            tally.add(table)
            done = tally.classified + tally.failed
            rate = done / max(time.perf_counter() - started, 1e-9)
            bar.update(table.num_rows, f"{rate:.1f} images/s")


def classify_on_ray(
    paths: tuple[Path, ...],
    model: Path,
    address: str,
    output: Path,
    *,
    actors: int | None,
    batch_size: int,
    overrides: CardOverrides,
) -> Tally:
    """Classify the images under `paths` on Ray and write their records to `output`: the errors
    found on the driver first, then the workers' records as they come (in Ray's order)."""
    try:
        import pyarrow  # noqa: F401
        import ray
    except ModuleNotFoundError as exc:
        raise EdgexrayError(
            f"--ray needs Ray Data ({exc.name} is not installed here): pip install 'edgexray[ray]'"
        ) from None
    from edgexray.scale import FolderConfusion, classify_dataset, model_labels, record_schema
    from edgexray.scale.records import records_table

    labels = model_labels(model, overrides=overrides)  # a bad model fails before Ray starts
    found = discover_images(list(paths))
    problems = _problems(found.problems, found.files)
    files = [str(p) for p in found.files if _encodable(p)]
    tally = Tally(FolderConfusion(labels))
    show = sys.stderr.isatty()
    with ray_session(address) as cpus:
        import ray.data

        destination = RecordFile(output, record_schema(labels))
        try:
            if problems:
                table = records_table(problems, labels)
                destination.write(table)
                tally.add(table)
            if files:
                records = classify_dataset(
                    ray.data.from_items([{"path": f} for f in files]),
                    model,
                    actors=actors or cpus,
                    batch_size=batch_size,
                    overrides=overrides,
                )
                _stream(records, destination, tally, len(files), show)
        finally:
            destination.close()
    return tally
