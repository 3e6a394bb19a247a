"""GET /healthz (the process answers) and GET /readyz (the model is loaded and warmed up); both open,
they say nothing about the model."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from edgexray.serve.service import ServiceDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "alive"}


@router.get("/readyz", responses={503: {"description": "Not ready: starting or stopping"}})
async def readyz(service: ServiceDep) -> JSONResponse:
    if service.ready:
        return JSONResponse({"status": "ready"})
    return JSONResponse({"error": "not ready"}, status_code=503)
