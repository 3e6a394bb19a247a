"""The configuration files on the command line: their values become the defaults of every command
that runs a model (edgexray.config.SECTIONS: classify, serve, watch, explain, bench, info,
dicom-node; click's default_map, so flags and environment variables win), each through
apply_config, and `edgexray config show` prints the effective configuration, where each value came
from, and the settings of the less protected file that were ignored because they would weaken the
system file's (edgexray.config_precedence)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from edgexray.config import (
    SECTIONS,
    ConfigError,
    ConfigFile,
    ConfigPaths,
    find_configs,
    load_config,
)
from edgexray.config_precedence import merge_setting


class ActionOption(click.Option):
    """An option that makes its command do something once instead of its usual work (`serve
    --new-token FILE` writes a token and exits, `watch --once` stops when the inbox is empty):
    given only on the command line. A configuration file that sets one is refused, since every
    start would then run the action (a kiosk service that writes a token and exits, a watcher
    that stops) instead of the service the file configures."""


# An argument the file may set: `info [MODEL]` takes the model file as an argument, where the
# other commands take -m/--model, so a top-level `model` key names the model for all of them.
FILE_ARGUMENTS = ("model",)


def _options(command: click.Command) -> dict[str, click.Parameter]:
    """Key accepted in the file -> the option: long names with dashes or underscores, and the
    parameter's own name (and the arguments of FILE_ARGUMENTS)."""
    keys: dict[str, click.Parameter] = {}
    for param in command.params:
        if isinstance(param, click.Argument) and param.name in FILE_ARGUMENTS:
            keys[param.name] = param
        if isinstance(param, click.Option) and param.name and not param.hidden:
            if param.name in ("help", "version"):
                continue
            keys[param.name] = param
            for opt in param.opts:
                if opt.startswith("--"):
                    keys[opt[2:]] = param
                    keys[opt[2:].replace("-", "_")] = param
    return keys


def _value(config: ConfigFile, option: click.Parameter, value: Any) -> Any:
    if option.multiple and not isinstance(value, list):
        value = [value]  # `trusted-key = "site.pub"`: one value of a repeatable option
    if isinstance(option.type, click.Path):
        return (
            [config.resolve_path(v) for v in value]
            if isinstance(value, list)
            else config.resolve_path(value)
        )
    return value


def _setting(
    config: ConfigFile,
    where: str,
    key: str,
    value: Any,
    option: click.Parameter,
    context: click.Context,
) -> Any:
    """The value of `key` (found at `where`: `[serve]` or `(top level)`) for the default_map,
    checked as the command line would check it, so that a mistake names the file, the section
    and the key rather than a flag the user never typed. ConfigError for an action or a value
    the option refuses."""
    if isinstance(option, ActionOption):
        raise ConfigError(
            f"{config.path} {where} {key}: an action, not a setting (every start would run it "
            f"instead of the command): give {option.opts[-1]} on the command line"
        )
    value = _value(config, option, value)
    try:
        option.process_value(context, value)
    except click.BadParameter as exc:
        raise ConfigError(f"{config.path} {where} {key}: {exc.message}") from None
    return value


def command_defaults(
    config: ConfigFile, name: str, command: click.Command
) -> tuple[dict[str, Any], dict[str, str]]:
    """(default_map for `command`, where each value came from). Shared keys the command does not
    have are skipped (another command uses them); a key in its own section it does not have is an
    error, and so is an action (ActionOption) or a value the option refuses."""
    options = _options(command)
    context = click.Context(command, info_name=name)
    defaults: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for key, value in config.shared.items():
        if key in options:
            option = options[key]
            defaults[str(option.name)] = _setting(
                config, "(top level)", key, value, option, context
            )
            origins[str(option.name)] = f"{config.path} (top level)"
    for key, value in config.sections.get(name, {}).items():
        if key not in options:
            raise ConfigError(f"{config.path}: [{name}] has no option {key!r}")
        option = options[key]
        defaults[str(option.name)] = _setting(config, f"[{name}]", key, value, option, context)
        origins[str(option.name)] = f"{config.path} [{name}]"
    return defaults, origins


def check_shared_keys(config: ConfigFile, commands: dict[str, click.Command]) -> None:
    """A top-level key that no command has is a typo, not a value for later."""
    known = set().union(*(_options(c) for c in commands.values()))
    unknown = sorted(set(config.shared) - known)
    if unknown:
        raise ConfigError(f"{config.path}: no command has the option(s) {', '.join(unknown)}")


@dataclass(frozen=True)
class Layers:
    """The files of a run, read and checked: the system file and the less protected one."""

    system: ConfigFile | None = None
    local: ConfigFile | None = None

    @classmethod
    def load(cls, paths: ConfigPaths, commands: dict[str, click.Command]) -> Layers:
        layers = cls(
            None if paths.system is None else load_config(paths.system),
            None if paths.local is None else load_config(paths.local),
        )
        for config in (layers.system, layers.local):
            if config is not None:
                check_shared_keys(config, commands)
        return layers

    def paths(self) -> str:
        """`/etc/edgexray/edgexray.toml (system), ./edgexray.toml`."""
        named = [f"{self.system.path} (system)"] if self.system is not None else []
        return ", ".join(named + ([str(self.local.path)] if self.local is not None else []))


def _built_in(param: click.Parameter, context: click.Context) -> Any:
    """The option's own default as the merge compares it: a list for a repeatable option, None
    where it has none (click's own marker for "no default" is not a value)."""
    value = param.get_default(context)
    if param.multiple:
        return list(value) if isinstance(value, (list, tuple)) else []
    return value if isinstance(value, (str, bool, int, float)) else None


def layered_defaults(
    layers: Layers, name: str, command: click.Command
) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """(default_map for `command`, where each value came from, one warning per setting of the
    less protected file that was ignored because it would weaken the system file's)."""
    system, system_origins = (
        command_defaults(layers.system, name, command) if layers.system else ({}, {})
    )
    if layers.local is None:
        return system, system_origins, []
    local, local_origins = command_defaults(layers.local, name, command)
    if layers.system is None:
        return local, local_origins, []
    defaults, origins, warnings = dict(system), dict(system_origins), []
    params = {param.name: param for param in command.params if param.name}
    context = click.Context(command, info_name=name)
    for option, value in local.items():
        set_by_system = option in system
        base = system[option] if set_by_system else _built_in(params[option], context)
        merged = merge_setting(option, base, set_by_system, value)
        if not merged.weakened:
            defaults[option] = merged.value
            origins[option] = local_origins[option]
            continue
        if set_by_system:  # what the merge kept (the minimum versions: both files' highest)
            defaults[option] = merged.value
        kept = system_origins[option] if set_by_system else "the built-in default"
        warnings.append(
            f"{local_origins[option]} {params[option].opts[-1].removeprefix('--')} = {value!r} "
            "ignored: it would "
            f"weaken {base!r} ({kept}), and {layers.system.path} is the more protected file"
        )
    return defaults, origins, warnings


def apply_config(ctx: click.Context, explicit: Path | None) -> None:
    """Give the invoked subcommand (one of SECTIONS) its defaults from the configuration files;
    say on stderr which files were read, and which settings were ignored."""
    paths = find_configs(explicit)
    ctx.meta["edgexray.config_paths"] = paths
    name = ctx.invoked_subcommand
    if not paths.all() or name not in SECTIONS:
        return
    group = ctx.command
    commands = {n: group.get_command(ctx, n) for n in SECTIONS}  # type: ignore[attr-defined]
    layers = Layers.load(paths, commands)
    # Every section is checked, so a mistake is reported whichever command runs first.
    merged = {n: layered_defaults(layers, n, command) for n, command in commands.items()}
    click.echo(f"edgexray: configuration: {layers.paths()}", err=True)
    for warning in merged[name][2]:
        click.echo(f"edgexray: warning: {warning}", err=True)
    ctx.default_map = {name: merged[name][0]}


def _source(context: click.Context, name: str, origins: dict[str, str]) -> str:
    source = context.get_parameter_source(name)
    if source is ParameterSource.DEFAULT_MAP:
        return origins.get(name, "configuration")
    if source is ParameterSource.ENVIRONMENT:
        param = next(p for p in context.command.params if p.name == name)
        return f"environment {param.envvar}"
    return "built-in default"


@click.group()
def config() -> None:
    """The configuration files (edgexray.toml): the system file /etc/edgexray/edgexray.toml
    (EDGEXRAY_SYSTEM_CONFIG names another), merged with --config FILE, or EDGEXRAY_CONFIG, or
    ./edgexray.toml, which cannot weaken the system file's security settings."""


@config.command()
@click.option(
    "--command", "only", type=click.Choice(SECTIONS), default=None, help="Only this command."
)
@click.pass_context
def show(ctx: click.Context, only: str | None) -> None:
    """Print the effective configuration of each command that reads the files (classify, serve,
    watch, explain, bench, info, dicom-node), and where each value came from (a file, the
    environment, or the built-in default). Flags given on a command line win over all of these."""
    root = ctx.find_root()
    paths = root.meta.get("edgexray.config_paths") or ConfigPaths()
    group = root.command
    commands = {name: group.get_command(root, name) for name in SECTIONS}  # type: ignore[attr-defined]
    layers = Layers.load(paths, commands)
    click.echo(f"# configuration files: {layers.paths() or 'none found'}")
    warned: set[str] = set()
    for name, command in commands.items():
        if only and name != only:
            continue
        defaults, origins, warnings = layered_defaults(layers, name, command)
        for warning in warnings:
            if warning not in warned:  # a top-level key is every section's
                warned.add(warning)
                click.echo(f"edgexray: warning: {warning}", err=True)
        parent = click.Context(group, info_name="edgexray", default_map={name: defaults})
        context = command.make_context(name, [], parent=parent, resilient_parsing=True)
        click.echo(f"[{name}]")
        for param in command.params:
            if not isinstance(param, click.Option) or param.name in (None, "help"):
                continue
            if isinstance(param, ActionOption):
                continue  # not a setting: nothing to show
            value = context.params.get(param.name)
            shown = "(none)" if value is None else str(value)
            click.echo(
                f"  {param.opts[-1]:<20} {shown:<40} # {_source(context, param.name, origins)}"
            )
