"""Every answer the service gives, counted by its status code, as ASGI middleware outside all
others: answers the upload limit gives before the app sees the request (413), request validation
(422), the token check (401), unknown paths (404) and unexpected errors (500) included."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


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
