"""The portal's Starlette app: routes, the session and CSRF checks every request passes,
and :func:`mount_portal`, which puts it on the service host's app under ``/portal``.

Theory of operation. Each request is read on the event loop (a form body, at most 64 KiB
of ``application/x-www-form-urlencoded``), then handled in the portal's own threads (two:
the pages read the database, a login hashes a password with argon2id, and a burst of
logins must never hold a terminal's request waiting in the service's threads), in these
steps; the first that fails answers:

1. a page that needs a login and has no live session redirects to the login form (303);
2. a page of another role answers 404, as does an object (an account, a batch) that is
   not the logged-in member's: nobody learns what exists by editing a URL;
3. a form is refused (403) unless it carries the CSRF token of its session, or, before
   login (the login and reset forms), the one of the ``portal_csrf`` cookie it came with;
4. the page is rendered by Jinja2 with autoescaping on: whatever a member typed (a name)
   is shown as text, never as markup.

Every answer carries a strict Content-Security-Policy (no script at all), ``nosniff``, no
framing and ``no-store``. The session cookie is HttpOnly, SameSite=Lax, scoped to the
portal's path, and Secure when the request came over TLS.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import logging
import secrets
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timezone
from enum import Enum
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlalchemy import Connection
from sqlalchemy.pool import StaticPool
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route

from host.backoffice.database import Database
from host.backoffice.settings import load_settings
from host.service.kek import CLEAR, KeyVault

from .auth import Accounts, PortalRole, Throttle
from .charts import Bar, bar_chart
from .errors import LoginRefusedError, PortalAccountError, ThrottledError
from .i18n import LANGUAGES, choose, text
from .schema import create_portal_schema
from .sessions import Session, Sessions

__all__ = ["PATH", "Portal", "mount_portal"]

LOGGER = logging.getLogger("dualcard.portal")
PATH = "/portal"
SESSION_COOKIE, CSRF_COOKIE, LANG_COOKIE = "portal_session", "portal_csrf", "portal_lang"
_MAX_FORM = 64 * 1024
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin", "Cache-Control": "no-store",
}
#: :data:`HEADERS` as every answer's raw header lines (encoded once, not per answer)
_RAW_HEADERS = [(name.lower().encode("latin-1"), value.encode("latin-1"))
                for name, value in HEADERS.items()]
_STRICT_NAMES = frozenset(name for name, _ in _RAW_HEADERS)
HOME = {PortalRole.CONSUMER: "/me", PortalRole.MERCHANT: "/merchant",
        PortalRole.INSURER: "/insurer", PortalRole.OPERATOR: "/operator"}
#: each role's pages besides its home, as (path, catalogue key) for the navigation bar
NAV = {PortalRole.CONSUMER: [("/me/centre", "nav_centre"), ("/me/prepaid", "nav_prepaid"),
                              ("/notices", "nav_notices")],
       PortalRole.MERCHANT: [("/merchant/orders", "nav_orders"),
                             ("/merchant/prepaid", "nav_prepaid"), ("/notices", "nav_notices")],
       PortalRole.INSURER: [("/insurer/prepaid", "nav_prepaid"), ("/notices", "nav_notices")],
       PortalRole.OPERATOR: [("/operator/terminals", "nav_terminals"),
                             ("/operator/reconcile", "nav_reconcile")]}


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Access(Enum):
    PUBLIC = "public"  #: anyone (the login and reset forms)
    LOGGED_IN = "logged in"  #: any role


@dataclass
class Visit:
    """One request as a handler sees it (read on the loop, handled in a thread)."""

    method: str
    params: dict[str, str]
    form: dict[str, str]
    cookies: dict[str, str]
    lang: str
    address: str
    secure: bool
    base: str
    session: Session | None = None
    set_cookies: list[tuple[str, str, int | None, bool]] = field(default_factory=list)


class _FormError(Exception):
    def __init__(self, status: int) -> None:
        self.status = status


async def _form(request: Request) -> dict[str, str]:
    """A POST's fields; an empty body is an empty form (whose CSRF check then fails)."""
    if request.method != "POST":
        return {}
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_FORM:
            raise _FormError(413)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if body and kind != "application/x-www-form-urlencoded":
        raise _FormError(415)
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except (UnicodeDecodeError, ValueError):
        raise _FormError(400) from None


def fen(amount: int) -> str:
    """Minor units as money: 123456 → ``1,234.56`` (negative with a minus)."""
    sign = "-" if amount < 0 else ""
    whole, cents = divmod(abs(amount), 100)
    return f"{sign}{whole:,}.{cents:02d}"


class Portal:
    """The portal over the back office's database ``db``; :meth:`app` is its ASGI app.
    ``executor`` runs the pages (default: two threads of its own); ``vault`` wraps the MAC
    keys of the terminals an operator enrols (the service's)."""

    def __init__(self, db: Database, *, executor: Executor | None = None,
                 clock: Callable[[], dt.datetime] = utc_now, accounts: Accounts | None = None,
                 throttle: Throttle | None = None, vault: KeyVault = CLEAR) -> None:
        create_portal_schema(db)
        self.db = db
        self.vault = vault
        self.executor = executor or ThreadPoolExecutor(max_workers=2,
                                                       thread_name_prefix="dualcard-portal")
        self.clock = clock
        self.accounts = accounts or Accounts(db, clock=clock, throttle=throttle)
        self.sessions = Sessions(db, clock=clock)
        # the templates ship with the package: each is compiled once, never checked again
        # against its file (auto_reload: two stat calls per template per page)
        self.env = Environment(loader=PackageLoader("host.portal", "templates"),
                               autoescape=select_autoescape(default=True), auto_reload=False,
                               undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        self.env.filters.update(fen=fen, num=lambda n: f"{n:,}")
        self.css = resources.files("host.portal").joinpath("static/portal.css").read_bytes()
        self._tz: timezone | None = None
        #: per handler thread, the read transaction a GET request runs in (see :meth:`_admitted`)
        self._local = threading.local()
        #: not on an in-memory SQLite database: its one connection serves every transaction,
        #: and a page that writes (the inbox) would begin inside its own read
        self._snapshots = not isinstance(db.engine.pool, StaticPool)

    # -- the app ---------------------------------------------------------------------------

    def app(self) -> Starlette:
        from . import pages  # the handlers, one function per page

        routes = [Route(path, self._endpoint(handler, access), methods=methods)
                  for path, methods, access, handler in pages.ROUTES]
        routes.append(Route("/static/portal.css", self._stylesheet, methods=["GET"]))
        return Starlette(routes=routes)

    async def _stylesheet(self, request: Request) -> Response:
        return Response(self.css, media_type="text/css",
                        headers={"Cache-Control": "max-age=3600", "X-Content-Type-Options": "nosniff"})

    def _endpoint(self, handler: Callable[[Portal, Visit], Response],
                  access: Access | PortalRole) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            lang = choose(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))
            try:
                form = await _form(request)
            except _FormError as refusal:
                bare = Visit(request.method, {}, {}, dict(request.cookies), lang, "", False,
                             request.scope.get("root_path", ""))
                return _strict(self.message(bare, "bad_form", refusal.status))
            client, scope = request.client, request.scope
            visit = Visit(request.method, dict(request.path_params), form, dict(request.cookies),
                          lang, client.host if client else "", scope.get("scheme") == "https",
                          scope.get("root_path", ""))
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self.executor, self._handle, handler, access, visit)
        return endpoint

    def _handle(self, handler: Callable[[Portal, Visit], Response], access: Access | PortalRole,
                visit: Visit) -> Response:
        try:
            response = self._admitted(handler, access, visit)
        except Exception as exc:  # a bug or the database gone: a page, never a traceback
            error_id = uuid.uuid4().hex
            LOGGER.error("portal error %s", type(exc).__name__, exc_info=exc,
                         extra={"fields": {"event": "portal_error", "error_id": error_id}})
            response = self.message(visit, "failed", 500)
        for name, value, age, http_only in visit.set_cookies:
            response.set_cookie(name, value, max_age=age, path=visit.base or "/",
                                secure=visit.secure, httponly=http_only, samesite="lax")
        _strict(response)
        return response

    def _admitted(self, handler: Callable[[Portal, Visit], Response],
                  access: Access | PortalRole, visit: Visit) -> Response:
        """A GET (a page: it reads, and writes only through a transaction of its own) runs
        in one read transaction, its session and the page read from one snapshot: a
        transaction's begin and end cost as much as two of the page's queries."""
        if visit.method != "GET" or not self._snapshots:
            return self._checked(handler, access, visit)
        with self.db.read() as conn:
            self._local.conn = conn
            try:
                return self._checked(handler, access, visit)
            finally:
                self._local.conn = None

    def _checked(self, handler: Callable[[Portal, Visit], Response],
                 access: Access | PortalRole, visit: Visit) -> Response:
        if SESSION_COOKIE in visit.cookies:  # a public form's CSRF token is its session's
            with self.reading() as conn:
                visit.session = self.sessions.find(visit.cookies[SESSION_COOKIE], conn=conn)
        if access is not Access.PUBLIC:
            if visit.session is None:
                return RedirectResponse(f"{visit.base}/login", 303)
            if isinstance(access, PortalRole) and visit.session.role is not access:
                return self.message(visit, "not_found", 404)
        if visit.method == "POST" and not self._csrf_ok(visit):
            return self.message(visit, "csrf", 403)
        return handler(self, visit)

    @staticmethod
    def _csrf_ok(visit: Visit) -> bool:
        given = visit.form.get("csrf", "")
        expected = visit.session.csrf if visit.session is not None \
            else visit.cookies.get(CSRF_COOKIE, "")
        return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())

    # -- what handlers use -----------------------------------------------------------------

    def tz(self) -> timezone:
        """The alliance's time zone (its settings never change once stored)."""
        if self._tz is None:
            with self.reading() as conn:
                self._tz = load_settings(conn).tz
        return self._tz

    def render(self, visit: Visit, template: str, status: int = 200, **context: Any) -> Response:
        lang, tz = visit.lang, self.tz()
        session = visit.session
        csrf = session.csrf if session is not None else self._anonymous_csrf(visit)
        page = self.env.get_template(template).render(
            t=lambda key, **values: text(key, lang, **values), lang=lang, base=visit.base,
            session=session, csrf=csrf, languages=LANGUAGES, chart=_chart(lang),
            when=lambda at: at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
            home=HOME[session.role] if session else "/login",
            nav=NAV[session.role] if session else [], **context)
        return HTMLResponse(page, status)

    @staticmethod
    def _anonymous_csrf(visit: Visit) -> str:
        token = visit.cookies.get(CSRF_COOKIE, "")
        if len(token) < 32:
            token = secrets.token_urlsafe(32)
            visit.cookies[CSRF_COOKIE] = token
            visit.set_cookies.append((CSRF_COOKIE, token, None, True))
        return token

    def message(self, visit: Visit, key: str, status: int) -> Response:
        """A page saying ``key`` (a refusal, nothing found, a failure) with ``status``."""
        try:
            return self.render(visit, "message.html", status, message=key)
        except Exception:  # the database is out of reach for the time zone: plain text
            return HTMLResponse(text(key, visit.lang), status)

    def start_session(self, visit: Visit, account: Any) -> None:
        token, visit.session = self.sessions.start(
            account, replacing=visit.cookies.get(SESSION_COOKIE))
        visit.set_cookies.append((SESSION_COOKIE, token, None, True))

    def login(self, visit: Visit) -> Response:
        """The login form's answer: a new session, or the form again saying why not."""
        login, password = visit.form.get("login", "").strip().lower(), visit.form.get("password", "")
        try:
            account = self.accounts.verify(login, password, visit.address)
        except ThrottledError as exc:
            LOGGER.warning("login throttled", extra={"fields": {"event": "login_throttled",
                                                                "login": login[:64]}})
            response = self.render(visit, "login.html", 429, error="throttled",
                                   seconds=exc.retry_after, login=login)
            response.headers["Retry-After"] = str(exc.retry_after)
            return response
        except LoginRefusedError:
            return self.render(visit, "login.html", 401, error="refused", seconds=0, login=login)
        self.start_session(visit, account)
        return RedirectResponse(f"{visit.base}{HOME[account.role]}", 303)

    def change_password(self, visit: Visit) -> Response:
        assert visit.session is not None
        form, login = visit.form, visit.session.account.login
        status, error = 200, ""
        if form.get("new", "") != form.get("repeat", ""):
            status, error = 400, "passwords_differ"
        else:
            try:
                self.accounts.change_password(login, form.get("current", ""), form.get("new", ""),
                                              visit.address)
            except PortalAccountError:
                status, error = 400, "password_rules"
            except LoginRefusedError:
                status, error = 401, "refused"
            except ThrottledError as exc:
                status, error = 429, f"throttled:{exc.retry_after}"
        if not error:  # every session ended: this one goes on under a new id
            self.start_session(visit, visit.session.account)
        return self.render(visit, "password.html", status, error=error, done=not error)

    def reset(self, visit: Visit) -> Response:
        form = visit.form
        login = form.get("login", "").strip().lower()
        error, status = "", 200
        if form.get("new", "") != form.get("repeat", ""):
            error, status = "passwords_differ", 400
        else:
            try:
                self.accounts.reset(login, form.get("code", ""), form.get("new", ""), visit.address)
            except PortalAccountError:
                error, status = "password_rules", 400
            except LoginRefusedError:
                error, status = "refused_code", 401
            except ThrottledError as exc:
                error, status = f"throttled:{exc.retry_after}", 429
        if error:
            return self.render(visit, "reset.html", status, error=error, login=login)
        return self.render(visit, "login.html", 200, error="", seconds=0, login=login,
                           notice="reset_done")

    def business_day(self) -> dt.date:
        """Today's business day by the alliance's settings."""
        with self.reading() as conn:
            return load_settings(conn).business_day(self.clock())

    def read(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with self.reading() as conn:
            return fn(conn, *args, **kwargs)

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """The request's read transaction if it has one (a GET's), else a new one."""
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            yield conn
            return
        with self.db.read() as conn:
            yield conn


def _strict(response: Response) -> Response:
    """``response`` with the strict headers of :data:`HEADERS` (replacing any of those
    names it had)."""
    response.raw_headers[:] = [line for line in response.raw_headers
                               if line[0] not in _STRICT_NAMES]
    response.raw_headers.extend(_RAW_HEADERS)
    return response


def _chart(lang: str) -> Callable[..., str]:
    def chart(title_key: str, rows: list[tuple[str, int, str]], **values: object) -> str:
        from markupsafe import Markup
        return Markup(bar_chart(text(title_key, lang, **values), [Bar(*row) for row in rows]))
    return chart  # type: ignore[return-value]


def safe_next(base: str, target: str) -> str:
    """``target`` if it is a page of the portal, else the portal's root (no open redirect)."""
    if target.startswith(base + "/") and not target.startswith("//") and "\\" not in target:
        return target
    return base + "/"


def query(**values: str) -> str:
    return "?" + urlencode(values)


def mount_portal(app: Starlette, db: Database, *, executor: Executor | None = None,
                 clock: Callable[[], dt.datetime] = utc_now, path: str = PATH,
                 vault: KeyVault = CLEAR) -> Portal:
    """Serve the portal under ``path`` on ``app`` (the service host's HTTP app)."""
    portal = Portal(db, executor=executor, clock=clock, vault=vault)
    # first of the app's routes: a page is the most frequent request, and the router tries
    # its routes in order (the API's share no prefix with it)
    app.router.routes.insert(0, Mount(path, app=portal.app(), name="portal"))
    return portal
