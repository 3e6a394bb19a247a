"""The docs that are generated or checked against the code: the CLI reference and the exit codes."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from edgexray import exit_codes

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


@pytest.mark.tensorflow  # the workstation commands (export, train...) render only where installed
def test_the_cli_reference_is_what_the_commands_take() -> None:
    from edgexray.cli.main import cli
    from edgexray.cli.reference import render

    written = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert written == render(cli), "docs/cli.md is stale: run tools/cli-reference"


def test_every_exit_code_is_in_the_table() -> None:
    table = (DOCS / "exit-codes.md").read_text(encoding="utf-8")
    documented = {int(code) for code in re.findall(r"^\| (\d+) \|", table, re.M)}
    codes = {
        value
        for name, value in vars(exit_codes).items()
        if name.isupper() and isinstance(value, int)
    }
    assert documented == codes


def _figures() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_figures", ROOT / "tools/docs_figures.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_every_figure_block_is_its_results_file() -> None:
    figures = _figures()
    stale = [s for document in figures.documents() for s in figures.render(document)[1]]
    assert not stale, "run tools/docs_figures.py: " + "; ".join(
        f"{s.document.name}: {s.source} {s.reason}" for s in stale
    )


def test_a_block_that_differs_from_its_source_is_stale(tmp_path: Path) -> None:
    figures = _figures()
    (tmp_path / "docs").mkdir()
    (tmp_path / "RESULTS.md").write_text(
        "# R\n\n## seed cnn\n\n| a | p50 |\n|---|---|\n| x | 1 ms |\n"
    )
    document = tmp_path / "docs" / "page.md"
    document.write_text("text\n<!-- figures: RESULTS.md#seed-cnn -->\nold\n<!-- /figures -->\n")
    text, stale = figures.render(document, tmp_path)
    assert [s.reason for s in stale] == ["differs from its source"]
    assert "| x | 1 ms |" in text
    document.write_text(text)
    assert figures.render(document, tmp_path)[1] == []
    assert figures.loose_figures(document, tmp_path) == []
    document.write_text(
        text.replace("<!-- /figures -->\n", "<!-- /figures -->\n| p50 |\n|---|\n| 2 ms |\n")
    )
    assert figures.loose_figures(document, tmp_path) == ["docs/page.md:9"]


def test_a_block_keeps_the_links_of_its_source_working(tmp_path: Path) -> None:
    figures = _figures()
    (tmp_path / "docs").mkdir()
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "R.md").write_text("# R\n\n![plot](plot.png) [web](https://x.org/a)\n")
    document = tmp_path / "docs" / "page.md"
    document.write_text("<!-- figures: bench/R.md -->\n<!-- /figures -->\n")
    text, _ = figures.render(document, tmp_path)
    assert "![plot](../bench/plot.png) [web](https://x.org/a)" in text


def test_no_measured_figure_outside_a_figure_block() -> None:
    figures = _figures()
    loose = [row for document in figures.documents() for row in figures.loose_figures(document)]
    assert not loose, (
        "measured figures outside a figure block (copy them from the results file a benchmark "
        "writes, <!-- figures: benchmarks/FILE.md#section -->): " + ", ".join(loose)
    )


def test_a_measured_share_is_found_whatever_the_header_and_a_bound_is_not(tmp_path: Path) -> None:
    figures = _figures()
    (tmp_path / "docs").mkdir()
    document = tmp_path / "docs" / "page.md"
    document.write_text(
        "| category | seed CNN |\n|---|---:|\n| knee | 98% |\n\n"  # a share, whatever the header
        "| check | refused when |\n|---|---|\n| `colour` | over **5%** of pixels |\n\n"  # a bound
        "| goal | value |\n|---|---|\n| latency | <= 1.10x plain int8 |\n\n"  # a goal
        "| endpoint | what |\n|---|---|\n| `/metrics` | the 413s and 401s |\n\n"  # status codes
        "| run | wall |\n|---|---|\n| cold | 1.5 s |\n\n"  # a time
        "| setting | median ms |\n|---|---:|\n| int8 | 2.96 |\n\n"  # a bare number, measured
        "| option | default |\n|---|---:|\n| --runs | 50 |\n"  # a bare number, a setting
    )
    assert figures.loose_figures(document, tmp_path) == [
        "docs/page.md:3",
        "docs/page.md:19",
        "docs/page.md:23",
    ]


def test_every_results_file_a_block_copies_says_its_command_machine_and_date() -> None:
    figures = _figures()
    sources = {
        block["source"]
        for document in figures.documents()
        for block in figures.BLOCK.finditer(document.read_text(encoding="utf-8"))
    }
    assert sources
    for source in sorted(sources):
        text = (ROOT / source).read_text(encoding="utf-8")
        preamble = re.split(r"\n#{2,} ", text, maxsplit=1)[0]  # above its first section
        assert "python benchmarks/" in preamble, f"{source}: no command"
        assert re.search(r"\b20\d\d-\d\d-\d\d(?!\d)", preamble), f"{source}: no date"
        assert re.search(r"\bcores?\b", preamble), f"{source}: no machine"


def _commands() -> dict[str, Any]:
    import click

    from edgexray.cli.main import cli

    context = click.Context(cli)
    found: dict[str, Any] = {}

    def walk(group: click.Group, prefix: str) -> None:
        for name in group.list_commands(context):
            command = group.get_command(context, name)
            if isinstance(command, click.Group):
                walk(command, f"{prefix}{name} ")
            elif command is not None:
                found[f"{prefix}{name}"] = command

    walk(cli, "")
    return found


@pytest.mark.tensorflow  # the workstation commands load only where installed
def test_help_texts_are_short_and_the_detail_is_in_the_docs() -> None:
    import click

    long = [
        f"{name} {param.opts[0]} ({len(param.help or '')})"
        for name, command in _commands().items()
        for param in command.params
        if isinstance(param, click.Option) and len(param.help or "") > 180
    ]
    long += [
        f"{name} ({len(command.help or '')})"
        for name, command in _commands().items()
        if len(command.help or "") > 600
    ]
    assert not long, "move the detail into docs/ and keep --help short: " + ", ".join(long)


def test_every_command_that_runs_a_model_defaults_to_the_bundled_demo_model() -> None:
    commands = _commands()
    for name in ("classify", "explain", "serve", "watch", "bench"):
        (model,) = [p for p in commands[name].params if "--model" in p.opts]
        assert not model.required and "Default: the bundled demo model" in (model.help or ""), name
    (model,) = [p for p in commands["info"].params if p.name == "model"]
    assert not model.required


def _modules(folder: Path) -> list[Path]:
    return [
        path
        for path in sorted(folder.iterdir())
        if (path.suffix == ".py" and path.name != "__init__.py")
        or (path.is_dir() and (path / "__init__.py").is_file())
    ]


def test_the_architecture_page_names_every_package_and_module() -> None:
    page = (DOCS / "architecture.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`([\w.]+)/?`", page))
    paths = [
        path
        for root in ("edgexray", "export")
        for top in _modules(ROOT / root)
        for path in (top, *(_modules(top) if top.is_dir() else ()))
    ]
    missing = [
        str(path.relative_to(ROOT))
        for path in paths
        if path.name not in named and path.name.removesuffix(".py") not in named
    ]
    assert not missing, "docs/architecture.md does not name: " + ", ".join(missing)
