"""The HTTP API, every path and what it answers: the kiosk screen and its files (open), /healthz
and /readyz (open: they say nothing about the model), and behind the token GET /v1/model,
GET /metrics and POST /v1/classify (one uploaded image in, the record `classify --format json`
writes out, through the bounded inference queue, audited before it is answered)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from importlib.resources import files
from typing import IO, Annotated, Any

from fastapi import APIRouter, Depends, File, Query, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from edgexray.audit import new_id
from edgexray.preprocessing.transform import DISPLAY_SIDE
from edgexray.serve.auth import require_token
from edgexray.serve.error_responses import error_response
from edgexray.serve.inference_queue import Delivery, InferenceTimeout, QueueFull
from edgexray.serve.served_model import Classified
from edgexray.serve.service import Service, ServiceDep

#: Answered to anyone: the screen (which asks for the token itself) and the health probes.
open_routes = APIRouter()
#: Answered only to a request that carries the service's token.
protected_routes = APIRouter(dependencies=[Depends(require_token)])

STATIC = files("edgexray.serve") / "static"
MEDIA_TYPES = {"screen.css": "text/css", "screen.js": "text/javascript"}

# Seconds a client should wait before retrying when the queue is full: about one inference.
RETRY_AFTER = "1"


# The screen: one page with its stylesheet and script, all shipped in the package (no CDN, no
# build step: it works offline). Everything it shows comes from the API behind the token.


@open_routes.get("/", response_class=HTMLResponse, include_in_schema=False)
async def screen() -> HTMLResponse:
    return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"))


@open_routes.get("/static/{name}", include_in_schema=False)
async def static(name: str) -> Response:
    if name not in MEDIA_TYPES:
        return Response(status_code=404)
    return Response((STATIC / name).read_bytes(), media_type=MEDIA_TYPES[name])


# Health: the process answers (/healthz); the model is loaded and warmed up (/readyz).


@open_routes.get("/healthz", tags=["health"])
async def healthz() -> dict[str, str]:
    return {"status": "alive"}


@open_routes.get(
    "/readyz", tags=["health"], responses={503: {"description": "Not ready: starting or stopping"}}
)
async def readyz(service: ServiceDep) -> JSONResponse:
    if service.ready:
        return JSONResponse({"status": "ready"})
    return JSONResponse({"error": "not ready"}, status_code=503)


# The model and the service's figures: behind the token, the model's identity is in both.


@protected_routes.get("/v1/model", tags=["model"])
async def model(service: ServiceDep) -> dict[str, Any]:
    """The card of the model being served and its identity (what every record carries)."""
    return service.model.describe()


@protected_routes.get("/metrics", tags=["metrics"], response_class=Response)
async def metrics(service: ServiceDep) -> Response:
    """The Prometheus text format."""
    return Response(service.metrics.render(), media_type=CONTENT_TYPE_LATEST)


# Classification.

# Seconds a client should wait before retrying when the queue is full: about one inference.
RETRY_AFTER = "1"


@protected_routes.post(
    "/v1/classify",
    tags=["classify"],
    responses={
        401: {"description": "Missing or wrong bearer token"},
        413: {"description": "Upload larger than the server's limit"},
        422: {"description": "Not an image the model can read; `error` says why"},
        501: {"description": "explain=1 asked of a build without heatmaps"},
        503: {"description": "Queue full; retry after Retry-After seconds"},
        504: {"description": "The inference did not finish within the request timeout"},
    },
)
async def classify(
    file: Annotated[
        UploadFile, File(description="One image, in any format `edgexray classify` reads")
    ],
    service: ServiceDep,
    explain: Annotated[
        bool,
        Query(
            description="Add the heatmap: `overlay` (a PNG data URL) and `explanation` (its "
            "record; `localized: false` with `not_localized` when the map shows no evidence)"
        ),
    ] = False,
    preview: Annotated[
        bool,
        Query(
            description="Add `preview`: the image as the model saw it (decoded, a DICOM file "
            f"windowed), at most {DISPLAY_SIDE} px on its long side, as a PNG data URL that any "
            "browser shows"
        ),
    ] = False,
) -> JSONResponse:
    started = time.perf_counter()
    request_id = new_id()
    outcome, response = await _classify(service, file, Asked(explain, preview), request_id)
    service.metrics.requests.labels(outcome).inc()
    service.metrics.latency.observe(time.perf_counter() - started)
    response.headers["X-Request-ID"] = request_id
    return response


@dataclass(frozen=True)
class Asked:
    """What a request asked for besides the record: the heatmap, the preview."""

    explain: bool
    preview: bool


def _classify_and_audit(
    service: Service,
    upload: IO[bytes],
    filename: str,
    asked: Asked,
    request_id: str,
    delivery: Delivery,
) -> Classified:
    """The worker thread's job: classify, settle whether the answer will be delivered, then write
    the audit line (fsync included) before the answer goes out, so no answer is given that the
    audit log does not hold. `delivered: false` marks a decision the client never got: its request
    was answered 504 (or went away) while this job ran."""
    classified = service.model.classify_upload(upload, filename, asked.explain, asked.preview)
    delivered = delivery.commit()
    if service.audit is not None:
        entry = service.audit.entry(
            classified.prediction,
            request_id=request_id,
            latency_s=classified.seconds,
            mode="serve",
        )
        service.audit.append([{**entry, "delivered": delivered}])
    return classified


async def _classify(
    service: Service, file: UploadFile, asked: Asked, request_id: str
) -> tuple[str, JSONResponse]:
    """(outcome for the metrics, response)."""
    if asked.explain and not service.model.can_explain:
        return "error", error_response(501, "heatmaps are not available in this build")
    filename = file.filename or "upload"
    try:
        classified = await service.queue.run(
            lambda delivery: _classify_and_audit(
                service, file.file, filename, asked, request_id, delivery
            )
        )
    except QueueFull:
        return "queue_full", error_response(
            503, "busy: the inference queue is full", {"Retry-After": RETRY_AFTER}
        )
    except InferenceTimeout:
        return "timeout", error_response(504, "the inference took longer than the timeout")
    service.metrics.inference.observe(classified.seconds)
    record = classified.record()
    if classified.prediction.error is not None:
        return "unreadable", JSONResponse(record, status_code=422)
    # An input the checks refused is an answer too: no label, and `rejected` says why.
    return ("rejected_input" if record.get("rejected") else "classified"), JSONResponse(record)
