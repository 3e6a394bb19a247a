"""`edgexray doctor`: what this device is, and which engines work on it."""

from __future__ import annotations

import json

import click

from edgexray import exit_codes


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON, for scripts.")
@click.option(
    "--no-smoke",
    is_flag=True,
    help="Skip the smoke test (the demo model on every installed engine, each in its own process).",
)
def doctor(as_json: bool, no_smoke: bool) -> None:
    """Check this device: OS, architecture, Python, numpy, usable cores, int8 CPU features, memory,
    installed and installable engines, a smoke test of the demo model on every installed engine
    with its time, and warnings for known traps (32-bit OS, engine releases that crash on some CPUs,
    thermal throttling), and whether the DICOM node configured in edgexray.toml listens.

    Exit codes: 0 at least one engine works (or --no-smoke), 1 no engine works.
    """
    from edgexray.doctor import examine
    from edgexray.pacs.probe import node_state

    report = examine(run_smoke=not no_smoke)
    node = node_state(click.get_current_context().find_root().meta.get("edgexray.config_paths"))
    if as_json:
        click.echo(json.dumps({**report.to_dict(), "dicom_node": node.to_dict()}, indent=2))
    else:
        click.echo("\n".join([*report.lines(), node.line()]))
    if not no_smoke and not report.working_engines:
        raise SystemExit(exit_codes.FATAL)
