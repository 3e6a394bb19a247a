"""`edgexray verify MODEL --trusted-key PUBLIC`: check a model file's signature (device)."""

from __future__ import annotations

from pathlib import Path

import click

from edgexray.cli.options import trusted_key_option
from edgexray.signing import TrustPolicy, verify_model
from edgexray.signing.rules import SIGNATURE_ONLY


@click.command()
@click.argument("model", type=click.Path(path_type=Path, dir_okay=False))
@trusted_key_option
def verify(model: Path, trusted_keys: tuple[Path, ...]) -> None:
    """Check that MODEL is signed by a trusted key and unchanged since, and show what the
    signature binds (model name, version, the export gate's verdict). Exit 0 if so; otherwise one
    line naming the file and the reason, exit 1."""
    if not trusted_keys:
        raise click.UsageError("give at least one --trusted-key (or EDGEXRAY_TRUSTED_KEYS)")
    signer = verify_model(model, TrustPolicy(trusted_keys, SIGNATURE_ONLY))
    click.echo(f"{model}: {signer.describe()}, unchanged")
