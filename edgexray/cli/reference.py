"""The CLI reference (docs/cli.md), rendered from the click commands themselves.

`tools/cli-reference` writes it; a test renders it again and compares, so the page cannot drift
from the options the commands really take.
"""

from __future__ import annotations

import inspect

import click

HEADER = (
    "# CLI reference\n\n"
    "Generated from the commands themselves by `tools/cli-reference` (a test fails when this page "
    "and the commands differ). Every command takes `-h`/`--help`. Exit codes: [exit-codes.md](exit-codes.md). Options shared by "
    "several commands have the same name, default and environment variable in each.\n"
)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _default(param: click.Parameter) -> str:
    if isinstance(param, click.Option) and (param.is_flag and not param.secondary_opts):
        return ""
    value = param.to_info_dict()["default"]  # click's public view: None when there is none
    if value is None or value == () or callable(value):
        return ""
    return f"`{value}`"


def _kind(param: click.Parameter) -> str:
    if isinstance(param, click.Option) and param.is_flag:
        return "flag"
    kind = param.type
    if isinstance(kind, click.Choice):
        return " \\| ".join(f"`{c}`" for c in kind.choices)
    return kind.name.upper()


def _options(command: click.Command, ctx: click.Context) -> list[str]:
    rows = []
    for param in command.get_params(ctx):
        # -h/--help is on every command: said once in the header, not per command (click caches
        # the help option per command object, so listing it would depend on what ran before).
        if not isinstance(param, click.Option) or param.hidden or "--help" in param.opts:
            continue
        names = ", ".join(f"`{n}`" for n in (*param.opts, *param.secondary_opts))
        envvar = param.envvar if isinstance(param.envvar, str) else ""
        help_text = _cell(param.help or "")
        rows.append(
            f"| {names} | {_kind(param)} | {_default(param)} | "
            f"{f'`{envvar}`' if envvar else ''} | {help_text} |"
        )
    if not rows:
        return []
    return ["| option | value | default | environment | meaning |", "|---|---|---|---|---|", *rows]


def _section(name: str, command: click.Command, parent: click.Context) -> list[str]:
    ctx = click.Context(command, info_name=name, parent=parent)
    usage = " ".join(command.collect_usage_pieces(ctx))
    lines = [f"## `{ctx.command_path}`", "", f"    {ctx.command_path} {usage}", ""]
    lines += [inspect.cleandoc(command.help or command.short_help or ""), ""]
    options = _options(command, ctx)
    if options:
        lines += [*options, ""]
    if isinstance(command, click.Group):
        for sub in command.list_commands(ctx):
            subcommand = command.get_command(ctx, sub)
            if subcommand is not None and not subcommand.hidden:
                lines += _section(sub, subcommand, ctx)
    return lines


def render(group: click.Group, program: str = "edgexray") -> str:
    """docs/cli.md for `group`: the group's own options, then each command in name order."""
    # The group's own context settings (-h as well as --help), as `edgexray` itself runs it; the
    # commands' contexts inherit them.
    ctx = click.Context(group, info_name=program, **group.context_settings)
    lines = [HEADER, f"## `{program}`", "", inspect.cleandoc(group.help or ""), ""]
    lines += [*_options(group, ctx), ""]
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is not None and not command.hidden:
            lines += _section(name, command, ctx)
    return "\n".join(lines).rstrip() + "\n"
