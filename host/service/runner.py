"""The service process: both front doors on one event loop, over one pool of handler threads.

:class:`ServiceHost` starts the ISO 8583 server (:mod:`.tcp_server`) and, when given an
HTTP port, the HTTP/JSON one (:mod:`.http_app`: uvicorn's server run as a task of the
same loop, its signal handling left to the process). The HTTP door hands its requests to
the pool's threads; the ISO door too on PostgreSQL, and on SQLite handles them on the
loop's thread (D64). SQLite's writers of the two doors then take turns on the database's
own lock (:meth:`~host.backoffice.database.Database.write`), each starting as the other
commits; a long write of the HTTP door (a batch upload) holds the loop, and so the ISO
door, until it commits, as it held the one handler thread both shared before. Given a
:class:`~.tls.ServerTLS`, both serve TLS with the same context. Stopping stops both
gracefully at once (each finishes the requests in flight and sends their answers), then
the threads. Every ten minutes it forgets idempotency keys past their retention.
"""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from .core import ServiceCore
from .errors import ServiceConfigurationError
from .http_core import HTTPCore
from .metrics import Metrics
from .tcp_server import GROUP_WAIT, ISOServer, on_loop_by_default
from .tls import ServerTLS

if TYPE_CHECKING:
    from .http_app import HTTPServer

__all__ = ["ServiceHost"]

_PURGE_EVERY = 600.0


class ServiceHost:
    """Both doors of one service process (the HTTP door only if ``http_port`` is given),
    over TLS when given ``tls`` (else plain TCP and HTTP)."""

    def __init__(self, core: ServiceCore, *, host: str = "127.0.0.1", iso_port: int = 0,
                 http_port: int | None = 0, workers: int = 1,
                 max_body: int | None = None, tls: ServerTLS | None = None,
                 group_wait: float = GROUP_WAIT, on_loop: bool | None = None) -> None:
        if core.metrics is None:
            core.metrics = Metrics()
        self.tls = tls
        context = None if tls is None else tls.context()
        self.pool = ThreadPoolExecutor(max_workers=max(1, workers),
                                       thread_name_prefix="dualcard-service")
        if on_loop is None:  # as the ISO door alone decides (its pool is shared here)
            on_loop = on_loop_by_default(core, workers)
        self.iso = ISOServer(core, host=host, port=iso_port, pool=self.pool, tls=context,
                             group_wait=group_wait, on_loop=on_loop)
        self.http_core = HTTPCore(core)
        self.http = None if http_port is None else self._http_server(host, http_port, max_body)
        self._purger: asyncio.Task[None] | None = None

    def _http_server(self, host: str, port: int, max_body: int | None) -> HTTPServer:
        try:
            from .http_app import MAX_BODY, HTTPServer, create_app
        except ImportError as exc:  # starlette and uvicorn come with the service extra
            raise ServiceConfigurationError(
                f"the HTTP door needs {exc.name}: pip install 'dualcard[service]'") from None
        app = create_app(self.http_core, executor=self.pool, max_body=max_body or MAX_BODY)
        self.portal = _portal(app, self.iso.core)
        return HTTPServer(app, host=host, port=port, tls=self.iso.tls)

    async def start(self) -> dict[str, tuple[str, int]]:
        """Listen on both doors; the address each one bound, by door (``iso``, ``http``).
        If one cannot listen, :meth:`stop` still stops the other."""
        bound = {"iso": await self.iso.start()}
        if self.http is not None:
            bound["http"] = await self.http.start()
            self._purger = asyncio.create_task(self._purge_keys())
        return bound

    async def stop(self) -> None:
        """Stop accepting on both doors, finish what is in flight, stop the threads."""
        if self._purger is not None:
            self._purger.cancel()
        doors = [self.iso.stop()] + ([self.http.stop()] if self.http is not None else [])
        try:
            await asyncio.gather(*doors)
        finally:
            self.pool.shutdown(wait=True)

    async def _purge_keys(self) -> None:
        store, loop = self.http_core.idempotency, asyncio.get_running_loop()
        while True:
            await asyncio.sleep(_PURGE_EVERY)
            with contextlib.suppress(Exception):  # the next round tries again
                await loop.run_in_executor(self.pool, store.purge, self.iso.core.clock())


def _portal(app: Any, core: ServiceCore) -> Any:
    """The alliance portal under ``/portal`` on the HTTP app, over the same database and
    clock, in threads of its own (a burst of password hashes never holds a terminal's
    request); None when its packages (the portal extra) are not installed."""
    try:
        from host.portal.app import mount_portal
    except ImportError:
        return None
    return mount_portal(app, core.services.db, clock=core.clock, vault=core.services.vault)
