"""GET /: the kiosk screen, one page with its stylesheet and script, all shipped in the package
(no CDN, no build step: it works offline). The page itself is open; it asks for the token and
everything it shows comes from the API behind it."""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

router = APIRouter(tags=["screen"])

STATIC = files("edgexray.serve") / "static"
MEDIA_TYPES = {"screen.css": "text/css", "screen.js": "text/javascript"}


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def screen() -> HTMLResponse:
    return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"))


@router.get("/static/{name}", include_in_schema=False)
async def static(name: str) -> Response:
    if name not in MEDIA_TYPES:
        return Response(status_code=404)
    return Response((STATIC / name).read_bytes(), media_type=MEDIA_TYPES[name])
