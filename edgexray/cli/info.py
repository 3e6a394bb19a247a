"""`edgexray info MODEL`: print the model card a model file carries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from edgexray.errors import CardError
from edgexray.modelfile import read_card


def _lines(data: dict[str, Any], indent: str = "") -> list[str]:
    lines = []
    for key, value in data.items():
        if isinstance(value, dict) and value:
            lines.append(f"{indent}{key}:")
            lines.extend(_lines(value, indent + "  "))
        elif isinstance(value, (list, tuple)):
            lines.append(f"{indent}{key}: {', '.join(map(str, value))}")
        elif value not in (None, {}, ""):
            lines.append(f"{indent}{key}: {value}")
    return lines


@click.command()
@click.argument("model", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the card as JSON.")
def info(model: Path, as_json: bool) -> None:
    """Print the model card of MODEL (embedded, or from its JSON sidecar), after checking the file
    against it."""
    card = read_card(model)
    if card is None:
        raise CardError(
            f"{model}: no model card embedded or beside it; run it with --labels and --normalize"
        )
    if as_json:
        click.echo(card.to_json())
        return
    size = model.stat().st_size
    click.echo(f"{model} ({size:,} bytes)")
    click.echo("\n".join(_lines(card.to_dict())))
