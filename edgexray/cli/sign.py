"""`edgexray sign MODEL... --key PRIVATE`: sign exported model files (workstation)."""

from __future__ import annotations

from pathlib import Path

import click

from edgexray.signing.sign import sign_model, signature_sidecar


@click.command()
@click.argument("models", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--key",
    "private_key",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Private key file from `edgexray keygen`.",
)
@click.option(
    "--model-version",
    type=click.IntRange(min=0),
    default=None,
    help="The version the signature binds (a device can require a minimum per model name). "
    "Default: the card's creation time (export), as YYYYMMDDHHMMSS in UTC.",
)
def sign(models: tuple[Path, ...], private_key: Path, model_version: int | None) -> None:
    """Sign MODEL files: the signature covers the model bytes, the card, the model's name, a
    version and the export gate's verdict, and is written into the file and beside it
    (NAME.sig). Signing again replaces the signature."""
    for model in models:
        signature = sign_model(model, private_key, model_version)
        statement = signature.statement
        click.echo(
            f"{model}: signed by key {signature.key_id}: model {statement.name!r}, version "
            f"{statement.version}, export gate {statement.gate} (also {signature_sidecar(model)})"
        )
