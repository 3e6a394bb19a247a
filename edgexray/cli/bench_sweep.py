"""`edgexray bench --sweep`: the outputs of a sweep (table, JSON, Markdown, recommended deployment)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from edgexray import exit_codes
from edgexray.atomic import write_text_atomically
from edgexray.bench.deployment import config_text
from edgexray.bench.report import format_markdown, format_table
from edgexray.bench.suite import BenchRequest, require_comparison
from edgexray.bench.sweep import run_sweep
from edgexray.errors import EdgexrayError


def sweep_command(
    request: BenchRequest,
    min_agreement: float | None,
    json_path: Path | None,
    markdown: Path | None,
    write_config: Path | None,
) -> None:
    """Run the sweep (threads up to request.threads, default the usable cores) and write its
    outputs; exit 3 when some points failed, 1 when all did. With min_agreement, NoReferenceError
    (exit 1) when nothing can be compared with the rows; with write_config, exit 1 when no row
    is recommended (nothing is written)."""
    sweep = run_sweep(
        request,
        request.threads,
        progress=lambda line: click.echo(f"edgexray: {line}", err=True),
        require_reference=min_agreement is not None,
    )
    chosen, deployment = (None, None)
    if min_agreement is not None:
        chosen, deployment = sweep.recommend(min_agreement)
    if json_path:
        document = sweep.report.to_dict()
        document["deployments"] = {
            name: {
                "path": str(d.path),
                "engine": d.engine,
                "threads": d.threads,
                "precision": d.precision,
            }
            for name, d in sweep.deployments.items()
        }
        if chosen is not None:
            document["recommendation"] = {
                **chosen.to_dict(),
                "command": deployment.command() if deployment else None,
            }
        write_text_atomically(json_path, json.dumps(document, indent=2) + "\n")
    if markdown:
        write_text_atomically(markdown, format_markdown(sweep.report))
    click.echo(format_table(sweep.report), nl=False)
    if chosen is not None:
        require_comparison(sweep.report)
        click.echo(chosen.describe())
    if deployment is not None and chosen is not None and chosen.best is not None:
        click.echo(f"run it with: {deployment.command()} IMAGES...")
        if write_config:
            why = (
                f"edgexray bench --sweep: fastest here with >= {100 * chosen.min_agreement:g}% "
                f"agreement, p50 {chosen.best.median_ms:.2f} ms"
            )
            write_text_atomically(write_config, config_text(deployment, why))
            click.echo(f"edgexray: wrote {write_config}", err=True)
    elif write_config:
        raise EdgexrayError(
            f"--write-config: nothing written to {write_config}, no row is recommended"
        )
    failed = [row for row in sweep.report.results if not row.ok]
    if failed:
        click.echo(
            f"edgexray: {len(failed)} of {len(sweep.report.results)} could not be measured",
            err=True,
        )
        sys.exit(
            exit_codes.FATAL if len(failed) == len(sweep.report.results) else exit_codes.PARTIAL
        )
