"""The `edgexray` command group and the process entry point."""

from __future__ import annotations

import importlib
import signal
import sys
from types import FrameType
from typing import Any

import click

from edgexray import __version__
from edgexray.cli import exit_codes
from edgexray.errors import EdgexrayError

# Command name -> "module:attribute". A command's module is imported only when that command runs
# (or help lists it), so `edgexray classify` does not pay for bench, export or training code.
COMMANDS = {
    "classify": "edgexray.cli.classify:classify",
    "info": "edgexray.cli.info:info",
    "bench": "edgexray.cli.bench:bench",
    "export": "edgexray.cli.export:export",
    "train": "edgexray.cli.train:train",
    "evaluate": "edgexray.cli.evaluate:evaluate",
    "synth": "edgexray.cli.synth:synth",
}


class LazyGroup(click.Group):
    """A click group that imports each subcommand on first use (click's documented pattern)."""

    def __init__(self, *args: Any, lazy_commands: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = lazy_commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.lazy_commands:
            return super().get_command(ctx, cmd_name)
        module_name, attribute = self.lazy_commands[cmd_name].split(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.lazy_commands[cmd_name]} is not a click command")
        return command


@click.group(
    cls=LazyGroup,
    lazy_commands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="edgexray")
def cli() -> None:
    """Run chest X-ray classifiers exported from Keras on low-power devices.

    Demo models are trained on synthetic images: for demonstration only, not for clinical use.
    """


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
