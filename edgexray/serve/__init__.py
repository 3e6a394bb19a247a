"""`edgexray serve`: the model as a local HTTP service with a kiosk screen (extra `[serve]`).

Nothing here is imported by `import edgexray`; FastAPI and uvicorn are needed only to serve.
Layout, one job per module: settings (one validated object), tokens (the bearer token's file and
environment variable), served_model (the loaded model and what one upload does with it),
inference_queue (bounded, off the event loop), service_metrics (Prometheus, and the middleware
counting every answer), auth (the bearer check), upload_limit (the body-size middleware),
error_responses (every error as JSON), service (what each handler is given), routes (every path
and its answer) and app (the factory that puts them together).
"""
