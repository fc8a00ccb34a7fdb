"""The portal alone (``dualcard portal serve``): its app under ``/portal`` on uvicorn, for
a lab or a developer; in production the service host serves it beside the HTTP API."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import click
from starlette.applications import Starlette
from starlette.responses import RedirectResponse
from starlette.routing import Route

from host.backoffice.database import Database
from host.service.http_app import HTTPServer
from host.service.kek import CLEAR, KeyVault
from host.service.tls import ServerTLS

from .app import PATH, mount_portal

__all__ = ["portal_app", "serve_portal"]


def portal_app(db: Database, vault: KeyVault = CLEAR) -> Starlette:
    """An app serving only the portal (``/`` redirects to it); ``vault`` wraps the keys of
    the terminals it enrols."""
    async def root(request: object) -> RedirectResponse:
        return RedirectResponse(PATH + "/", 303)

    app = Starlette(routes=[Route("/", root, methods=["GET"])])
    mount_portal(app, db, vault=vault)
    return app


async def serve_portal(db: Database, host: str, port: int, cert: Path | None,
                       key: Path | None, *, vault: KeyVault = CLEAR) -> None:
    tls = None if cert is None or key is None else ServerTLS(cert, key).context()
    server = HTTPServer(portal_app(db, vault), host=host, port=port, tls=tls)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    bound = await server.start()
    scheme = "https" if tls else "http"
    click.echo(f"dualcard portal: {scheme}://{bound[0]}:{bound[1]}{PATH}/")
    sys.stdout.flush()
    try:
        await stop.wait()
    finally:
        await server.stop()
