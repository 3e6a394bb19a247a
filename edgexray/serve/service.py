"""What every request handler needs, built once per app in its lifespan and handed to handlers
through the lifespan state (request.state.service), never through a global."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from edgexray.audit import AuditLog
from edgexray.serve.inference_queue import InferenceQueue
from edgexray.serve.served_model import ServedModel
from edgexray.serve.service_metrics import ServiceMetrics
from edgexray.serve.settings import ServeSettings


@dataclass
class Service:
    settings: ServeSettings
    model: ServedModel
    queue: InferenceQueue
    metrics: ServiceMetrics
    audit: AuditLog | None = None
    ready: bool = False


async def get_service(request: Request) -> Service:
    """FastAPI dependency: the service of the app that received `request`. Async (it does not
    block), so FastAPI calls it in the event loop rather than sending it to a thread."""
    service: Service = request.state.service
    return service


# A handler's parameter `service: ServiceDep` receives the service.
ServiceDep = Annotated[Service, Depends(get_service)]
