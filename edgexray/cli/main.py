"""The `edgexray` command group and the process entry point."""

from __future__ import annotations

import importlib
import os
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
    "serve": "edgexray.cli.serve:serve",
    "watch": "edgexray.cli.watch:watch",
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


class OutputClosed(Exception):
    """The reader of stdout went away (`edgexray classify DIR | head`)."""


class EdgexrayGroup(LazyGroup):
    """The command group, which lets a closed stdout reach main(): click.Command.main would turn
    the BrokenPipeError into exit 1 first. Parsing prints too (--help, --version)."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except BrokenPipeError as exc:
            raise OutputClosed from exc

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError as exc:
            raise OutputClosed from exc


@click.group(
    cls=EdgexrayGroup,
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


def _discard_stdout() -> None:
    """Point file descriptor 1 at the null device, so the interpreter's last flush of what is still
    buffered does not fail again at exit (the recipe of the `signal` module's note on SIGPIPE)."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return  # not a file descriptor (a test runner's buffer): nothing flushes it to a pipe
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; user errors end as one line on stderr and a documented exit code; a closed
    stdout ends the run quietly with exit code 141."""
    # SIGTERM (kiosk shutdown, systemd stop) unwinds like Ctrl-C, so open outputs are closed cleanly.
    signal.signal(signal.SIGTERM, _terminate)
    try:
        try:
            cli.main(args=argv, prog_name="edgexray", standalone_mode=False)
        finally:
            # Output still buffered (`info`, a short table) meets a reader that left here, where it
            # is handled, rather than at interpreter exit.
            sys.stdout.flush()
    except (OutputClosed, BrokenPipeError):
        _discard_stdout()
        sys.exit(exit_codes.OUTPUT_CLOSED)
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


if __name__ == "__main__":
    main()
