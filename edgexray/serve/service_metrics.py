"""Prometheus metrics of one service, in a registry of its own (not the library's global one), so
two apps in one process never mix their figures; and the ASGI middleware, outside all others, that
counts every answer by its status code: answers the guards give before the app sees the request
(400 for a foreign Host, 403 for a foreign Origin, 413), request validation (422), the token check
(401), unknown paths (404) and unexpected errors (500) included."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Seconds; a Raspberry Pi answers in tens of milliseconds, a busy queue in seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ServiceMetrics:
    """Requests by outcome (classify: classified, rejected_input, unreadable, queue_full, timeout,
    error; any protected endpoint: unauthorized), every answer by its status code (whatever gave
    it: the upload limit, validation, the token check...; see ResponseCounter), classify latency,
    inference time, queue depth and the model's identity."""

    def __init__(self, model_id: str, model_name: str, variant: str, sha256: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "edgexray_requests",
            "Classification requests by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.responses = Counter(
            "edgexray_responses",
            "Every answer of the service by its HTTP status code",
            ["status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "edgexray_request_seconds",
            "Time from the request's arrival to its answer, classification requests",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.inference = Histogram(
            "edgexray_inference_seconds",
            "Time to decode one upload and run the model on it",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "edgexray_queue_depth",
            "Inferences running or waiting",
            registry=self.registry,
        )
        model = Gauge(
            "edgexray_model_info",
            "The model being served (value always 1)",
            ["model_id", "name", "variant", "sha256"],
            registry=self.registry,
        )
        model.labels(model_id, model_name, variant, sha256).set(1)

    def render(self) -> bytes:
        """The Prometheus text exposition format."""
        return generate_latest(self.registry)


class ResponseCounter:
    """Counts each HTTP answer in the service's `responses` counter (ServiceMetrics), by status.
    The service comes from the lifespan state every request carries (no global)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        service = scope.get("state", {}).get("service") if scope["type"] == "http" else None
        if service is None:
            await self.app(scope, receive, send)
            return
        answered = False

        async def counting_send(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start":
                answered = True
                service.metrics.responses.labels(str(message["status"])).inc()
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        except Exception:
            # Answered 500 by Starlette's outermost error middleware, which sends past this one.
            if not answered:
                service.metrics.responses.labels("500").inc()
            raise
