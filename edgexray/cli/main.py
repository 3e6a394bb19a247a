"""The `edgexray` command group and the process entry point."""

from __future__ import annotations

import signal
import sys
from types import FrameType

import click

from edgexray import __version__
from edgexray.cli import exit_codes
from edgexray.cli.bench import bench
from edgexray.cli.classify import classify
from edgexray.cli.export import export
from edgexray.cli.info import info
from edgexray.errors import EdgexrayError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="edgexray")
def cli() -> None:
    """Run chest X-ray classifiers exported from Keras on low-power devices.

    Demo models are trained on synthetic images: for demonstration only, not for clinical use.
    """


cli.add_command(classify)
cli.add_command(info)
cli.add_command(export)
cli.add_command(bench)


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; user errors end as one line on stderr and a documented exit code."""
    # SIGTERM (kiosk shutdown, systemd stop) unwinds like Ctrl-C, so open outputs are closed cleanly.
    signal.signal(signal.SIGTERM, _terminate)
    try:
        cli.main(args=argv, prog_name="edgexray", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("edgexray: interrupted", err=True)
        sys.exit(exit_codes.INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except EdgexrayError as exc:
        click.echo(f"edgexray: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("edgexray: interrupted", err=True)
        sys.exit(exit_codes.INTERRUPTED)
    except BrokenPipeError:
        sys.exit(exit_codes.OK)


if __name__ == "__main__":
    main()
