"""The `edgexray` command group and the process entry point."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

import click

from edgexray import __version__, exit_codes
from edgexray.cli.options import RunSettings
from edgexray.errors import EdgexrayError
from edgexray.extras import install_hint

# Command name -> "module:attribute [extra]" (entry-point syntax). A command's module is imported
# only when that command runs (or help lists it), so `edgexray classify` does not pay for bench,
# export or training code. The workstation commands live in the export toolchain (edgexray_export),
# named here and never imported by the runtime; [extra] is what to install when their module is missing.
COMMANDS = {
    "classify": "edgexray.cli.classify:classify",
    "info": "edgexray.cli.info:info",
    "bench": "edgexray.cli.bench:bench",
    "export": "edgexray_export.cli.export:export [export]",
    "train": "edgexray_export.cli.train:train [export]",
    "evaluate": "edgexray_export.cli.evaluate:evaluate [export]",
    "synth": "edgexray_export.cli.synth:synth [export]",
    "keygen": "edgexray.cli.keygen:keygen",
    "sign": "edgexray.cli.sign:sign",
    "verify": "edgexray.cli.verify:verify",
    "explain": "edgexray.cli.explain:explain",
    "serve": "edgexray.cli.serve:serve [serve]",
    "watch": "edgexray.cli.watch:watch",
    "dicom-node": "edgexray.cli.dicom_node:dicom_node [pacs]",
    "config": "edgexray.cli.config:config",
    "doctor": "edgexray.cli.doctor:doctor",
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
        from importlib.metadata import EntryPoint

        entry = EntryPoint(cmd_name, self.lazy_commands[cmd_name], "edgexray.commands")
        try:
            command = entry.load()
        except ModuleNotFoundError as exc:
            return _missing_command(cmd_name, exc.name or entry.module, entry.extras)
        if not isinstance(command, click.Command):
            raise TypeError(f"{entry.value} is not a click command")
        return command


def _missing_command(name: str, module: str, extras: list[str]) -> click.Command:
    """A stand-in for a command whose module is not installed: it takes any arguments and ends with
    one line naming the extra to install (exit 1); help lists it with that hint."""
    install = install_hint(*extras) if extras else "reinstall edgexray"
    message = f"`edgexray {name}` is not installed here ({module} is missing): {install}"

    def refuse() -> None:
        raise EdgexrayError(message)

    return click.Command(
        name,
        callback=refuse,
        help=f"Not installed: {install}.",
        add_help_option=False,
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )


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
@click.option(
    "-v", "--verbose", is_flag=True, help="Also show the inference engine's own messages."
)
@click.option(
    "--debug",
    is_flag=True,
    help="Print the full traceback of an unexpected error (also: EDGEXRAY_DEBUG=1).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Configuration file for classify, serve, watch, explain, bench and info (env "
    "EDGEXRAY_CONFIG; else "
    "./edgexray.toml, else /etc/edgexray/edgexray.toml). Flags win over it.",
)
@click.pass_context
def cli(ctx: click.Context, verbose: bool, debug: bool, config_path: Path | None) -> None:
    """Run chest X-ray classifiers exported from Keras on low-power devices.

    Demo models are trained on synthetic images: for demonstration only, not for clinical use.
    """
    settings = ctx.ensure_object(RunSettings)
    settings.verbose = verbose
    settings.debug = debug
    from edgexray.cli.config import apply_config

    apply_config(ctx, config_path)


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


def _debug_requested(settings: RunSettings) -> bool:
    return settings.debug or os.environ.get("EDGEXRAY_DEBUG", "").strip() not in ("", "0")


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; user errors end as one line on stderr and a documented exit code; anything
    unexpected as one line and exit 1 (the traceback with --debug or EDGEXRAY_DEBUG=1); a closed
    stdout ends the run quietly with exit code 141."""
    # SIGTERM (kiosk shutdown, systemd stop) unwinds like Ctrl-C, so open outputs are closed cleanly.
    signal.signal(signal.SIGTERM, _terminate)
    settings = RunSettings()
    try:
        try:
            cli.main(args=argv, prog_name="edgexray", standalone_mode=False, obj=settings)
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
    except Exception as exc:  # a bug or an unforeseen failure: one line, unless asked for more
        if _debug_requested(settings):
            raise
        click.echo(
            f"edgexray: unexpected error: {_first_line(exc)} "
            "(run with --debug or EDGEXRAY_DEBUG=1 for the traceback)",
            err=True,
        )
        sys.exit(exit_codes.FATAL)


if __name__ == "__main__":
    main()
