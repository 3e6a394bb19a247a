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
def sign(models: tuple[Path, ...], private_key: Path) -> None:
    """Sign MODEL files: the signature covers the model bytes and the card, and is written into
    the file and beside it (NAME.sig). Signing again replaces the signature."""
    for model in models:
        signature = sign_model(model, private_key)
        click.echo(f"{model}: signed by key {signature.key_id} (also {signature_sidecar(model)})")
