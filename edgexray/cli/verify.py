"""`edgexray verify MODEL --trusted-key PUBLIC [rules]`: would a device with this trust policy run
MODEL? (its signature, and the policy's rules: minimum version, digest allow-list, gate verdict)."""

from __future__ import annotations

from pathlib import Path

import click

from edgexray.cli.options import file_rule_options, option_group, trusted_key_option
from edgexray.signing import TrustPolicy, verify_model
from edgexray.signing.rules import rules_from_options


@click.command()
@click.argument("model", type=click.Path(path_type=Path, dir_okay=False))
@trusted_key_option
@option_group(*file_rule_options)  # --allow-override judges a run's flags: verify has none
def verify(
    model: Path,
    trusted_keys: tuple[Path, ...],
    min_model_versions: tuple[str, ...],
    allowed_model_digests: tuple[str, ...],
    allow_degraded_model: bool,
) -> None:
    """Check that MODEL is signed by a trusted key and unchanged since, and that a device with
    the same trust policy would run it: the rules given (--min-model-version,
    --allowed-model-digest) hold, and the export gate did not flag it degraded (unless
    --allow-degraded-model). Shows what the signature binds (model name, version, the gate's
    verdict). Exit 0 if so; otherwise one line naming the file and the reason, exit 1."""
    if not trusted_keys:
        raise click.UsageError("give at least one --trusted-key (or EDGEXRAY_TRUSTED_KEYS)")
    rules = rules_from_options(min_model_versions, allowed_model_digests, allow_degraded_model, ())
    signer = verify_model(model, TrustPolicy(trusted_keys, rules))
    click.echo(f"{model}: {signer.describe()}, unchanged")
