"""`edgexray serve`: the model as a local HTTP service with a kiosk screen (extra `[serve]`).

Nothing here is imported by `import edgexray`; FastAPI and uvicorn are needed only to serve.
Layout, one job per module: settings (one validated object, the allowed Host names included),
tokens (where the bearer token comes from and the file it is kept in), served_model (the loaded
model and what one upload does with it), inference_queue (bounded, off the event loop),
service_metrics (Prometheus, and the middleware counting every answer), auth (the bearer check),
request_guards (the Origin and body-size middleware), error_responses (every error as JSON),
service (what each handler is given), routes (every path and its answer) and app (the factory
that puts them together).
"""
