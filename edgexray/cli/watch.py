"""`edgexray watch INBOX`: classify every image that lands in a folder, once, surviving restarts."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from edgexray import exit_codes
from edgexray.audit import RunAudit
from edgexray.classifier import Classifier
from edgexray.cli.config import ActionOption
from edgexray.cli.options import (
    audit_options,
    classifier_options_from,
    decision_options,
    model_or_demo,
    overrides_from,
    stop_on_signals,
)
from edgexray.inbox.processor import InboxProcessor
from edgexray.inbox.settings import WatchSettings
from edgexray.inbox.watcher import InboxWatcher

_folder = click.Path(path_type=Path, file_okay=False)
_file = click.Path(path_type=Path, dir_okay=False)


@click.command()
@click.argument("inbox", type=click.Path(path_type=Path, file_okay=False, exists=True))
@decision_options
@click.option("--results", type=_file, required=True, help="JSONL file results are appended to.")
@click.option(
    "--journal", type=_file, default=None, help="Journal of finished files [RESULTS.journal]."
)
@click.option("--json-dir", type=_folder, default=None, help="Also write one JSON per image here.")
@click.option("--done", type=_folder, default=None, help="Move classified files here.")
@click.option("--failed", type=_folder, default=None, help="Move files that failed here.")
@click.option(
    "--settle",
    type=click.FloatRange(min=0),
    default=2.0,
    show_default=True,
    help="Seconds a file's size and time must stay unchanged before it is taken, when no "
    "writer was seen on it (with inotify, a file being written waits for its close).",
)
@click.option(
    "--scan-interval",
    type=click.FloatRange(min=0, min_open=True),
    default=5.0,
    show_default=True,
    help="Seconds between full scans of the inbox.",
)
@click.option(
    "--poll",
    is_flag=True,
    help="Poll instead of inotify (network shares): files are taken by --settle alone.",
)
@click.option(
    "--once", cls=ActionOption, is_flag=True, help="Process what is in the inbox, then exit."
)
@audit_options
def watch(
    inbox: Path,
    model: Path | None,
    results: Path,
    journal: Path | None,
    json_dir: Path | None,
    done: Path | None,
    failed: Path | None,
    settle: float,
    scan_interval: float,
    poll: bool,
    once: bool,
    audit: Path | None,
    **flags: Any,
) -> None:
    """Classify every image that lands in INBOX (recursively), once each, even across restarts
    and crashes: a journal of finished files is kept beside the results. A file that failed and
    then changes (its writer finished it) is tried again, in --failed too.

    Stops cleanly on SIGTERM or Ctrl-C after the file in hand (exit 0). With --once: exit 0 when
    all were classified, 3 when some failed.
    """
    try:
        settings = WatchSettings(
            inbox=inbox,
            results=results,
            journal=journal,
            json_dir=json_dir,
            done=done,
            failed=failed,
            settle=settle,
            scan_interval=scan_interval,
            polling=poll,
            once=once,
            audit=audit,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    classifier = Classifier(
        model_or_demo(model),
        classifier_options_from(flags),
        overrides_from(flags),
    )
    auditor = RunAudit.open(audit, mode="watch") if audit else None

    def report(message: str) -> None:
        click.echo(f"edgexray: {message}", err=True)

    processor = InboxProcessor(settings, classifier, auditor, report)
    try:
        with stop_on_signals() as stop:
            InboxWatcher(settings, processor, report).run(stop)
    finally:
        processor.close()
        classifier.close()
        if auditor:
            auditor.log.close()
    click.echo(
        f"edgexray: {processor.classified} classified, {processor.failed} failed"
        + (" (stopped)" if stop.is_set() else ""),
        err=True,
    )
    if once and processor.failed:
        sys.exit(exit_codes.PARTIAL)
