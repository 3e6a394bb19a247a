"""GET /v1/model: the card of the model being served, its file hash, engine and signer."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from edgexray.serve.auth import require_token
from edgexray.serve.service import ServiceDep

router = APIRouter(prefix="/v1", tags=["model"], dependencies=[Depends(require_token)])


@router.get("/model")
async def model(service: ServiceDep) -> dict[str, Any]:
    return service.model.describe()
