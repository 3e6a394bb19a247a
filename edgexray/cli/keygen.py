"""`edgexray keygen`: make an Ed25519 signing key pair (workstation)."""

from __future__ import annotations

from pathlib import Path

import click

from edgexray.signing.keys import generate_key_pair


@click.command()
@click.option(
    "-o",
    "--out",
    "prefix",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("edgexray-signing"),
    show_default=True,
    help="Writes PREFIX.key (private, mode 0600: keep it on the workstation) and PREFIX.pub "
    "(public: copy it to the devices).",
)
def keygen(prefix: Path) -> None:
    """Make a key pair for `edgexray sign` (needs the [sign] extra)."""
    private, public, key_id = generate_key_pair(prefix)
    click.echo(f"key {key_id}: private {private} (keep secret), public {public}")
