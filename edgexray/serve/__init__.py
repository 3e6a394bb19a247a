"""`edgexray serve`: the model as a local HTTP service with a kiosk screen (extra `[serve]`).

Nothing here is imported by `import edgexray`; FastAPI and uvicorn are needed only to serve.
Layout: settings (one validated object), tokens (the bearer token's file and environment variable),
served_model (the loaded model and what one request does with it), inference_queue (bounded, off
the event loop), service_metrics (Prometheus), auth (the bearer dependency), routers/ (one per
resource) and app (the factory that puts them together).
"""
