"""The app factory: settings and a loaded model in, a FastAPI app out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.middleware.trustedhost import TrustedHostMiddleware

from edgexray import __version__
from edgexray.audit import AuditLog
from edgexray.serve.error_responses import install_error_handlers
from edgexray.serve.inference_queue import InferenceQueue
from edgexray.serve.request_guards import OriginCheck, UploadLimit
from edgexray.serve.routes import open_routes, protected_routes
from edgexray.serve.served_model import ServedModel
from edgexray.serve.service import Service
from edgexray.serve.service_metrics import ResponseCounter, ServiceMetrics
from edgexray.serve.settings import ServeSettings


def create_app(settings: ServeSettings, served: ServedModel) -> FastAPI:
    """The service for `served`. The model is loaded by the caller before the socket opens (so a
    bad model file is one line and exit 1, not a server that starts and fails); the lifespan warms
    it up, marks the service ready, and on shutdown, once in-flight requests are answered,
    releases the workers and the model."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Service]]:
        card = served.classifier.card
        service_metrics = ServiceMetrics(served.model_id, card.name, card.variant, served.sha256)
        queue = InferenceQueue(settings.workers, settings.queue_size, settings.request_timeout)
        queue.on_change = service_metrics.queue_depth.set
        audit = AuditLog(settings.audit) if settings.audit else None
        service = Service(settings, served, queue, service_metrics, audit)
        await run_in_threadpool(served.warm_up)
        service.ready = True
        try:
            yield {"service": service}
        finally:
            service.ready = False
            await run_in_threadpool(queue.close)
            served.close()
            if audit:
                audit.close()

    app = FastAPI(
        title="edgexray",
        version=__version__,
        summary="Chest X-ray classification on the device. Not for clinical use unless the "
        "model card says it was validated for it.",
        lifespan=lifespan,
        # The interactive docs load their scripts from a CDN, which a kiosk cannot reach;
        # /openapi.json describes the API.
        docs_url=None,
        redoc_url=None,
    )
    # Middleware runs outermost first, the reverse of the order added: the response counter (so
    # it counts every refusal), the Host check (400 for a name not allowed: DNS rebinding), the
    # Origin check (403 for a foreign page), the upload limit (401/413), then the routes.
    app.add_middleware(UploadLimit, max_bytes=settings.max_upload_bytes, token=settings.token)
    app.add_middleware(OriginCheck)
    app.add_middleware(
        TrustedHostMiddleware, allowed_hosts=list(settings.allowed_hosts), www_redirect=False
    )
    app.add_middleware(ResponseCounter)
    install_error_handlers(app)
    app.include_router(open_routes)
    app.include_router(protected_routes)
    return app
