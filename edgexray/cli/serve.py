"""`edgexray serve`: the model as a local HTTP service (extra `[serve]`)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import click

from edgexray.classifier import Classifier
from edgexray.cli.config import ActionOption
from edgexray.cli.options import (
    audit_options,
    classifier_options_from,
    decision_options,
    model_or_demo,
    overrides_from,
)
from edgexray.errors import EdgexrayError
from edgexray.extras import install_hint
from edgexray.serve.settings import DEFAULT_MAX_UPLOAD_BYTES, ServeSettings
from edgexray.serve.tokens import (
    STATE_TOKEN_NAME,
    TOKEN_ENV,
    Token,
    configured_token,
    default_state_dir,
    state_token,
    write_new_token,
)


def _require_extra() -> None:
    try:
        import fastapi  # noqa: F401
        import multipart  # noqa: F401
        import prometheus_client  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise EdgexrayError(
            f"serve needs the [serve] extra ({exc.name} is missing): {install_hint('serve')}"
        ) from None


@click.command()
@decision_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option(
    "--allow-host",
    "allow_hosts",
    multiple=True,
    metavar="NAME",
    help="A name clients reach the server by (Host header), besides localhost, 127.0.0.1, [::1] "
    "and --host (repeatable; *.example.org for subdomains; docs/kiosk.md).",
)
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
    "--state-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help=f"Where serve keeps the token it makes when none is configured ({STATE_TOKEN_NAME}). "
    "Default: $STATE_DIRECTORY, else the XDG state folder (docs/kiosk.md).",
)
@click.option(
    "--insecure-no-auth",
    is_flag=True,
    help="Run without a token: anyone who can reach the address may call the API.",
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
@audit_options
def serve(
    model: Path | None,
    host: str,
    port: int,
    allow_hosts: tuple[str, ...],
    token_file: Path | None,
    new_token: Path | None,
    state_dir: Path | None,
    insecure_no_auth: bool,
    max_upload_mb: float,
    workers: int,
    queue_size: int,
    request_timeout: float,
    audit: Path | None,
    **flags: Any,
) -> None:
    """Serve a model over HTTP: POST /v1/classify, GET /v1/model, /healthz, /readyz, /metrics.

    Every call but /, /healthz and /readyz needs the bearer token: --token-file, else the
    environment, else the one serve makes on first start in the state folder (--state-dir; the
    path is printed, never the token). --insecure-no-auth is the only way to run open. Stops
    cleanly on SIGTERM or Ctrl-C: requests in flight are answered, then exit 0.
    """
    if new_token is not None:
        write_new_token(new_token)
        click.echo(f"edgexray: wrote a new token to {new_token} (mode 0600)", err=True)
        return
    _require_extra()
    token = configured_token(token_file, os.environ)
    if token is None and not insecure_no_auth:
        token = state_token(state_dir or default_state_dir(os.environ))
    try:
        settings = ServeSettings(
            host=host,
            port=port,
            token=None if token is None else token.value,
            insecure_no_auth=insecure_no_auth,
            max_upload_bytes=int(max_upload_mb * 2**20),
            workers=workers,
            queue_size=queue_size,
            request_timeout=request_timeout,
            audit=audit,
            allow_hosts=allow_hosts,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    model = model_or_demo(model)
    classifier = Classifier(
        model,
        classifier_options_from(flags),
        overrides_from(flags),
    )
    _say_where_the_token_is(token, settings)
    _run(settings, classifier)


def _say_where_the_token_is(token: Token | None, settings: ServeSettings) -> None:
    """One line on stderr: where the token is kept (never the token), or that there is none."""
    if token is None:
        click.echo(
            f"edgexray: --insecure-no-auth: no token; anyone who can reach "
            f"{settings.host}:{settings.port} may call the API",
            err=True,
        )
    elif token.created:
        click.echo(
            f"edgexray: made a new token in {token.origin} (mode 0600); clients send it as "
            "'Authorization: Bearer <token>'",
            err=True,
        )
    else:
        click.echo(f"edgexray: clients must send the token from {token.origin}", err=True)


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
