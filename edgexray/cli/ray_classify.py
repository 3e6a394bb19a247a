"""`edgexray classify --ray [ADDRESS]`: the CLI glue around edgexray.scale (Ray session, output
file, progress). The work itself is edgexray.scale.classify_dataset."""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click

from edgexray import exit_codes
from edgexray.audit import AuditLog, RunAudit
from edgexray.card_resolution import CardOverrides
from edgexray.classifier import Classifier, ClassifierOptions
from edgexray.cli.writers import display_path
from edgexray.cores import usable_cores
from edgexray.errors import EdgexrayError
from edgexray.extras import install_hint
from edgexray.model_identity import ModelIdentity
from edgexray.modelfile import read_model_file
from edgexray.prediction import Prediction
from edgexray.preprocessing import discover_images

if TYPE_CHECKING:
    from edgexray.scale import FolderConfusion

LOCAL = "local"  # `--ray` without an address
# Seconds to reach a cluster given by address (--ray-timeout, EDGEXRAY_RAY_TIMEOUT).
DEFAULT_CONNECT_TIMEOUT_S = 30.0
OUTPUT_SUFFIXES = (".parquet", ".jsonl")


def require_ray() -> None:
    """EdgexrayError naming the extra when Ray Data (or pyarrow) is not installed here."""
    try:
        import pyarrow  # noqa: F401
        import ray  # noqa: F401
    except ModuleNotFoundError as exc:
        raise EdgexrayError(
            f"--ray needs Ray Data ({exc.name} is not installed here): {install_hint('ray')}"
        ) from None


def check_output(output: Path | None) -> Path:
    if output is None or output.suffix.lower() not in OUTPUT_SUFFIXES:
        raise click.BadParameter(
            "--ray writes its records to a file: give -o results.parquet or -o results.jsonl",
            param_hint="'-o' / '--output'",
        )
    return output


def _endpoint(address: str) -> tuple[str, int] | None:
    """(host, port) of a `host:port` or `ray://host:port` address; None for the others (`auto`,
    which Ray resolves from this machine's own files)."""
    host, colon, port = address.removeprefix("ray://").rpartition(":")
    if not colon or not host or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def probe(address: str, timeout: float) -> None:
    """EdgexrayError, in one line, unless something accepts a TCP connection at `address` within
    `timeout` seconds. Ray retries an address where nothing answers for about 12 minutes; this
    finds a wrong host or port, a stopped head or a firewall at once (or after `timeout`)."""
    endpoint = _endpoint(address)
    if endpoint is None:
        return
    try:
        with socket.create_connection(endpoint, timeout=timeout):
            return
    except ConnectionRefusedError:
        why = "connection refused (no Ray head listens there)"
    except socket.gaierror:
        why = f"unknown host {endpoint[0]}"
    except TimeoutError:
        why = f"no answer within {timeout:g} s (--ray-timeout)"
    except OSError as exc:
        why = str(exc.strerror or exc)
    raise EdgexrayError(f"cannot connect to Ray at {address}: {why}")


@contextmanager
def exit_after(seconds: float, message: str) -> Iterator[None]:
    """Within the block, a watch thread ends the process with `message` (one line on stderr) and
    exit code 1 if the block runs longer than `seconds`. For ray.init: something that accepts
    connections but is not a Ray GCS keeps it retrying in native code for about 12 minutes, and
    neither an exception nor a signal handler can cut that short (its retry loop catches every
    exception). Nothing has been written when it fires: the session is not open yet."""
    finished = threading.Event()

    def watch() -> None:
        if not finished.wait(seconds):
            with suppress(OSError):
                os.write(2, f"edgexray: error: {message}\n".encode())
            os._exit(exit_codes.FATAL)

    threading.Thread(target=watch, name="edgexray-ray-connect", daemon=True).start()
    try:
        yield
    finally:
        finished.set()


@contextmanager
def ray_session(address: str, timeout: float = DEFAULT_CONNECT_TIMEOUT_S) -> Iterator[int]:
    """Connect to the cluster at `address` (or RAY_ADDRESS) within `timeout` seconds (else one
    line and exit 1, see probe and exit_after), else start a local Ray with the cores this
    process may use; yields the cluster's CPU count; disconnects (and stops a local Ray). When
    this process is already connected to a Ray (a caller's ray.init), that one is used as is,
    and left connected."""
    import ray

    if ray.is_initialized():
        yield int(ray.cluster_resources().get("CPU", 1))
        return

    join = address if address != LOCAL else os.environ.get("RAY_ADDRESS")
    quiet: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False}
    try:
        if join:
            started = time.monotonic()
            probe(join, timeout)
            remaining = max(timeout - (time.monotonic() - started), 0.0)
            unanswered = (
                f"cannot connect to Ray at {join}: it did not answer as a Ray cluster within "
                f"{timeout:g} s (--ray-timeout; the address is the head's GCS port, 6379 by "
                "default)"
            )
            with exit_after(remaining, unanswered):
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
        import pyarrow.compute as pc

        # Classified: neither an error nor a refusal by the input checks (which exit 3 too).
        decided = pc.and_(pc.is_null(table.column("error")), pc.is_null(table.column("rejected")))
        ok = pc.sum(decided.cast("int64")).as_py() or 0
        self.classified += ok
        self.failed += table.num_rows - ok
        self.folders.add(table)


def _problems(found_problems: list[tuple[Path, str]], model: ModelIdentity) -> list[Prediction]:
    """Error records made on the driver: the paths that gave no image."""
    return [
        Prediction(model=model, path=str(p), error=f"{display_path(str(p))}: {why}")
        for p, why in found_problems
    ]


def _audit(auditor: RunAudit, table: Any) -> None:
    """One audit line per record of `table`, written on the driver as the records arrive (one
    write and one fsync per table)."""
    from edgexray.scale.records import row_to_prediction

    auditor.record_batch([row_to_prediction(row) for row in table.to_pylist()])


def with_progress(
    batches: Iterable[Any], total: int, show: bool, rows: Callable[[Any], int]
) -> Iterator[Any]:
    """`batches` as Ray yields them, with a progress bar on stderr (when `show`) showing images
    per second; `rows(batch)` counts a batch's images."""
    started = time.perf_counter()
    done = 0
    with click.progressbar(
        length=total,
        label="classifying",
        file=sys.stderr if show else io.StringIO(),
        show_pos=True,
        item_show_func=lambda rate: rate,
    ) as bar:
        for batch in batches:
            yield batch
            count = rows(batch)
            done += count
            rate = done / max(time.perf_counter() - started, 1e-9)
            bar.update(count, f"{rate:.1f} images/s")


def _stream(
    records: Any,
    destination: RecordFile,
    tally: Tally,
    total: int,
    show: bool,
    auditor: RunAudit | None = None,
) -> None:
    """Write the records as Ray yields them (and their audit lines), with a progress bar."""
    tables = records.iter_batches(batch_size=None, batch_format="pyarrow")
    for table in with_progress(tables, total, show, lambda t: int(t.num_rows)):
        destination.write(table)
        if auditor is not None:
            _audit(auditor, table)
        tally.add(table)


def classify_on_ray(
    paths: tuple[Path, ...],
    model: Path,
    address: str,
    output: Path,
    *,
    actors: int | None,
    batch_size: int,
    overrides: CardOverrides,
    options: ClassifierOptions | None = None,
    audit: Path | None = None,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_S,
) -> Tally:
    """Classify the images under `paths` on Ray and write their records to `output`: the errors
    found on the driver first, then the workers' records as they come (in Ray's order).

    options: what `classify` was given (input check mode, DICOM reading, engine, trusted keys...);
    the workers run them with one engine thread each (edgexray.scale.actor_options). audit: an
    audit log the driver appends one line to per worker record, as the records stream in.
    connect_timeout: seconds to reach the cluster at `address` (see ray_session)."""
    require_ray()
    from edgexray.scale import FolderConfusion, actor_options, classify_dataset, record_schema
    from edgexray.scale.records import records_table

    options = options or ClassifierOptions()
    # The model file is read once, here: a bad or untrusted model fails before Ray starts, and
    # the workers get these same bytes, whose signature was verified (each checks their SHA-256),
    # never another read of the file.
    checked = read_model_file(model)
    driver_options = actor_options(options, keep_trust=True)
    with Classifier(model, driver_options, overrides, checked=checked) as classifier:
        labels, identity = classifier.labels, classifier.identity
    found = discover_images(list(paths))
    problems = _problems(found.problems, identity)
    # The paths travel as bytes (an Arrow binary column): a name that is not UTF-8 reaches its
    # worker as it is, and its record names it as classify's does (display_name).
    files = [os.fsencode(p) for p in found.files]
    tally = Tally(FolderConfusion(labels))
    show = sys.stderr.isatty()
    with ExitStack() as stack:
        auditor = (  # opened first: a bad --audit path fails before Ray starts
            stack.enter_context(RunAudit(AuditLog(audit), "classify"))
            if audit is not None
            else None
        )
        cpus = stack.enter_context(ray_session(address, connect_timeout))
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
                    checked,
                    actors=actors or cpus,
                    batch_size=batch_size,
                    options=actor_options(options),
                    overrides=overrides,
                    identity=identity,
                )
                _stream(records, destination, tally, len(files), show, auditor)
        finally:
            destination.close()
    return tally
