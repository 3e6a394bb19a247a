"""GET /metrics in the Prometheus text format. Behind the token: the model's identity is in it."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST

from edgexray.serve.auth import require_token
from edgexray.serve.service import ServiceDep

router = APIRouter(tags=["metrics"], dependencies=[Depends(require_token)])


@router.get("/metrics", response_class=Response)
async def metrics(service: ServiceDep) -> Response:
    return Response(service.metrics.render(), media_type=CONTENT_TYPE_LATEST)
