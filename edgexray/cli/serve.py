"""`edgexray serve`: the model as a local HTTP service (extra `[serve]`)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import click

from edgexray.classifier import Classifier
from edgexray.cli.config import ActionOption
from edgexray.cli.options import (
    audit_option,
    card_override_options,
    classifier_options,
    engine_option,
    input_check_option,
    model_option,
    model_or_demo,
    overrides_from,
    precision_option,
    threads_option,
    trust_options,
)
from edgexray.errors import EdgexrayError
from edgexray.serve.settings import DEFAULT_MAX_UPLOAD_BYTES, ServeSettings
from edgexray.serve.tokens import TOKEN_ENV, resolve_token, write_new_token


def _require_extra() -> None:
    try:
        import fastapi  # noqa: F401
        import multipart  # noqa: F401
        import prometheus_client  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise EdgexrayError(
            f"serve needs the [serve] extra ({exc.name} is missing): pip install 'edgexray[serve]'"
        ) from None


@click.command()
@model_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option(
    "--token-file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help=f"File holding the bearer token clients must send. Env: {TOKEN_ENV} (the token itself).",
)
@click.option(
    "--new-token",
    "new_token",
    cls=ActionOption,
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write a new random token to FILE (mode 0600, never overwrites) and exit.",
)
@click.option(
    "--insecure-no-auth",
    is_flag=True,
    help="Allow listening on a non-loopback address without a token.",
)
@click.option(
    "--max-upload-mb",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_MAX_UPLOAD_BYTES / 2**20,
    show_default=True,
    help="Largest upload accepted, in MiB (413 past it).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Inference threads (decoding runs in parallel, the engine call is serialized).",
)
@click.option(
    "--queue-size",
    type=click.IntRange(min=0),
    default=16,
    show_default=True,
    help="Inferences that may wait for a worker; past that, 503 with Retry-After.",
)
@click.option(
    "--timeout",
    "request_timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=30.0,
    show_default=True,
    help="Seconds a request may wait for its inference (504 past it).",
)
@audit_option
@threads_option
@input_check_option
@trust_options
@engine_option
@precision_option
@card_override_options
def serve(
    model: Path | None,
    host: str,
    port: int,
    token_file: Path | None,
    new_token: Path | None,
    insecure_no_auth: bool,
    max_upload_mb: float,
    workers: int,
    queue_size: int,
    request_timeout: float,
    audit: Path | None,
    threads: int | None,
    engine: str | None,
    precision: str,
    input_check: str,
    trusted_keys: tuple[Path, ...],
    allow_unsealed_card: bool,
    **card_flags: Any,
) -> None:
    """Serve a model over HTTP: POST /v1/classify, GET /v1/model, /healthz, /readyz, /metrics.

    A bearer token is required when one is configured (--token-file or the environment); without
    one the server listens only on a loopback address, unless --insecure-no-auth. Stops cleanly on
    SIGTERM or Ctrl-C: requests in flight are answered, then exit 0.
    """
    if new_token is not None:
        write_new_token(new_token)
        click.echo(f"edgexray: wrote a new token to {new_token} (mode 0600)", err=True)
        return
    _require_extra()
    try:
        settings = ServeSettings(
            host=host,
            port=port,
            token=resolve_token(token_file),
            insecure_no_auth=insecure_no_auth,
            max_upload_bytes=int(max_upload_mb * 2**20),
            workers=workers,
            queue_size=queue_size,
            request_timeout=request_timeout,
            audit=audit,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    model = model_or_demo(model)
    classifier = Classifier(
        model,
        classifier_options(
            threads, engine, input_check, trusted_keys, allow_unsealed_card, precision=precision
        ),
        overrides_from(card_flags),
    )
    if settings.token is None:
        click.echo(f"edgexray: no token configured: anyone on {host} may call the API", err=True)
    _run(settings, classifier)


def _run(settings: ServeSettings, classifier: Classifier) -> None:
    import uvicorn

    from edgexray.serve.app import create_app
    from edgexray.serve.served_model import ServedModel

    app = create_app(settings, ServedModel(classifier))
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            lifespan="on",
            server_header=False,
            # In-flight requests get their own timeout's worth of time to finish on shutdown.
            timeout_graceful_shutdown=int(settings.request_timeout) + 5,
        )
    )
    # uvicorn shuts down gracefully on SIGTERM/SIGINT and then re-raises the signal for the
    # previous handler, which turns it into KeyboardInterrupt: the stop asked for, exit 0.
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    if not server.started:
        raise EdgexrayError("the server did not start; the messages above say why")
