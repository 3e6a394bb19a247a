"""`edgexray dicom-node`: receive images over DICOM (C-STORE), classify each, send the results
(SR, overlay) to a PACS. docs/dicom-node.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from edgexray.audit import RunAudit
from edgexray.classifier import Classifier
from edgexray.cli.dicom_results import code_option, overlay_option, settings_from, uid_root_option
from edgexray.cli.options import (
    audit_options,
    classifier_options_from,
    decision_options,
    model_or_demo,
    overrides_from,
    stop_on_signals,
)
from edgexray.pacs.node_settings import Destination, NodeSettings, TlsSettings, parse_networks

_file = click.Path(path_type=Path, dir_okay=False)


def _destination(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> Destination | None:
    if value is None:
        return None
    try:
        return Destination.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _networks(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> Any:
    try:
        return parse_networks(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command("dicom-node")
@click.option("--ae-title", default="EDGEXRAY", show_default=True, help="The node's AE title.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=11112, show_default=True, help="DICOM port."
)
@click.option("--bind", default="0.0.0.0", show_default=True, help="Address to listen on.")
@click.option(
    "--pacs",
    callback=_destination,
    required=True,
    metavar="AE@HOST:PORT",
    help="Where the results go (C-STORE), e.g. ORTHANC@pacs.local:4242.",
)
@click.option(
    "--state",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Folder of the spool, outbox and journals (survives restarts).",
)
@click.option(
    "--allow-ae",
    "allowed_aes",
    multiple=True,
    help="Calling AE title allowed to associate (repeatable; none given: any).",
)
@click.option(
    "--allow-address",
    "allowed_networks",
    multiple=True,
    callback=_networks,
    help="Source address or network allowed (repeatable, e.g. 10.0.4.0/24; none given: any).",
)
@click.option(
    "--max-associations", type=click.IntRange(min=1), default=4, show_default=True,
    help="Associations at once.",
)  # fmt: skip
@click.option(
    "--max-object-mb", type=click.IntRange(min=1), default=256, show_default=True,
    help="Objects larger than this are refused (status A700).",
)  # fmt: skip
@click.option("--tls-cert", type=_file, default=None, help="TLS certificate chain (PEM).")
@click.option("--tls-key", type=_file, default=None, help="TLS private key (PEM).")
@click.option("--tls-ca", type=_file, default=None, help="Require client certificates of this CA.")
@click.option(
    "--retry", type=click.FloatRange(min=0, min_open=True), default=2.0, show_default=True,
    help="Seconds before a failed send is tried again (doubling).",
)  # fmt: skip
@click.option(
    "--retry-max", type=click.FloatRange(min=0, min_open=True), default=60.0, show_default=True,
    help="Longest wait between tries.",
)  # fmt: skip
@overlay_option
@uid_root_option
@code_option
@decision_options
@audit_options
def dicom_node(
    ae_title: str,
    port: int,
    bind: str,
    pacs: Destination,
    state: Path,
    allowed_aes: tuple[str, ...],
    allowed_networks: Any,
    max_associations: int,
    max_object_mb: int,
    tls_cert: Path | None,
    tls_key: Path | None,
    tls_ca: Path | None,
    retry: float,
    retry_max: float,
    dicom_overlay: bool,
    dicom_uid_root: str,
    dicom_codes: Any,
    model: Path | None,
    audit: Path | None,
    **flags: Any,
) -> None:
    """Receive images over DICOM (C-STORE), decide each as `classify` does, and send an SR (and
    a heatmap with --dicom-overlay) to the PACS through a durable outbox (docs/dicom-node.md).

    Exit codes: 0 stopped (SIGTERM, Ctrl-C), 1 the model cannot load or the node cannot start,
    2 a bad option.
    """
    from edgexray.pacs.folder import require_pacs_extra

    require_pacs_extra("highdicom", "pynetdicom")
    if (tls_cert is None) != (tls_key is None) or (tls_ca is not None and tls_cert is None):
        raise click.UsageError("TLS needs --tls-cert and --tls-key (and --tls-ca only with them)")
    try:
        settings = NodeSettings(
            ae_title=ae_title,
            port=port,
            bind=bind,
            state=state,
            destination=pacs,
            allowed_aes=allowed_aes,
            allowed_networks=allowed_networks,
            max_associations=max_associations,
            max_object_bytes=max_object_mb * 1024 * 1024,
            tls=None
            if tls_cert is None or tls_key is None
            else TlsSettings(tls_cert, tls_key, tls_ca),
            retry_s=retry,
            retry_max_s=retry_max,
            results=settings_from(dicom_overlay, dicom_uid_root, dicom_codes),
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    options = classifier_options_from(flags)
    classifier = Classifier(model_or_demo(model), options, overrides_from(flags))
    auditor = RunAudit.open(audit, mode="dicom-node") if audit else None

    def report(message: str) -> None:
        click.echo(f"edgexray: {message}", err=True)

    from edgexray.pacs.service import NodeService

    try:
        service = NodeService(settings, classifier, auditor, report)
    except ValueError as exc:  # a label without a finding code
        classifier.close()
        raise click.UsageError(str(exc)) from None

    def listening(host: str, bound: int) -> None:
        report(f"dicom-node {settings.ae_title} listening on {host}:{bound}, results to {pacs}")

    try:
        with stop_on_signals() as stop:
            service.run(stop, listening)
    finally:
        service.close()
        classifier.close()
        if auditor:
            auditor.log.close()
    report(f"dicom-node stopped: {service.decider.decided} decided")
