"""POST /v1/classify: one uploaded image in, the record `classify --format json` writes out."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import IO, Annotated

from fastapi import APIRouter, Depends, File, Query, UploadFile
from fastapi.responses import JSONResponse

from edgexray.audit import new_id
from edgexray.preprocessing.transform import DISPLAY_SIDE
from edgexray.serve.auth import require_token
from edgexray.serve.error_responses import error_response
from edgexray.serve.inference_queue import InferenceTimeout, QueueFull
from edgexray.serve.served_model import Classified
from edgexray.serve.service import Service, ServiceDep

router = APIRouter(prefix="/v1", tags=["classify"], dependencies=[Depends(require_token)])

# Seconds a client should wait before retrying when the queue is full: about one inference.
RETRY_AFTER = "1"


@router.post(
    "/classify",
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
    service: Service, upload: IO[bytes], filename: str, asked: Asked, request_id: str
) -> Classified:
    """The worker thread's job: classify, then write the audit line (fsync included) before the
    answer goes out, so no answer is given that the audit log does not hold."""
    classified = service.model.classify_upload(upload, filename, asked.explain, asked.preview)
    if service.audit is not None:
        service.audit.record(
            classified.prediction,
            request_id=request_id,
            latency_s=classified.seconds,
            mode="serve",
        )
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
            lambda: _classify_and_audit(service, file.file, filename, asked, request_id)
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
