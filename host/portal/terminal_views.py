"""The operator's terminals page: enrol a terminal for a member and give it its MAC key
(shown once, as the key file the CLI writes), block and unblock it with a reason; a
merchant sees its own terminals' status on its page, read only.

Enrolling is one transaction: the back office's record of the terminal and the service's
MAC key are both kept, or neither is. A block takes effect in every service process within
its terminal directory's ``max_age`` (30 seconds by default).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select
from starlette.responses import RedirectResponse, Response

from host.backoffice.errors import NotFoundError, ValidationError
from host.backoffice.members import WITH_TERMINALS
from host.backoffice.schema import bo_members
from host.backoffice.terminals import (
    TerminalStatus,
    TerminalStatusError,
    TerminalTakenError,
    enrol_terminal,
    set_terminal_status,
    terminal_states,
)
from host.records.ids import check_terminal_id
from host.service.errors import ServiceConfigurationError
from host.service.kek import KeyWrapError
from host.service.mac import key_file_text
from host.service.schema import create_service_schema, svc_terminal_keys
from host.service.terminals import register_terminal

from .app import Portal, Visit

__all__ = ["block", "enrol", "terminals", "unblock"]


def terminals_view(conn: Connection) -> dict[str, Any]:
    """Every terminal with its status and KCV, and the members that may have terminals."""
    kcvs: dict[str, str] = {}
    if conn.dialect.has_table(conn, svc_terminal_keys.name):  # a portal served alone
        rows = conn.execute(select(svc_terminal_keys.c.terminal_id, svc_terminal_keys.c.kcv))
        kcvs = {row.terminal_id: row.kcv for row in rows}
    members = conn.execute(select(bo_members.c.id, bo_members.c.name)
                           .where(bo_members.c.kind.in_([k.value for k in WITH_TERMINALS]))
                           .order_by(bo_members.c.id)).all()
    return {"terminals": terminal_states(conn), "kcvs": kcvs,
            "members": [(m.id, m.name) for m in members]}


def terminals(portal: Portal, visit: Visit, status: int = 200, **shown: Any) -> Response:
    """The page; ``shown`` carries an error key or the terminal just enrolled."""
    shown.setdefault("error", "")
    shown.setdefault("enrolled", None)
    shown.setdefault("form", {})
    return portal.render(visit, "terminals.html", status, **shown,
                         **portal.read(terminals_view))


def enrol(portal: Portal, visit: Visit) -> Response:
    """Register the form's terminal to its member and give it a new MAC key, shown once."""
    form = {"terminal": visit.form.get("terminal", "").strip()[:32],
            "member": visit.form.get("member", "").strip()[:64]}
    try:
        terminal_id = check_terminal_id(form["terminal"])
    except ValidationError:
        return terminals(portal, visit, 400, error="bad_terminal_id", form=form)
    create_service_schema(portal.db)  # a portal served alone, on a database never served
    try:
        with portal.db.write() as conn:  # both records or neither
            enrol_terminal(conn, terminal_id, form["member"], at=portal.clock())
            keyed = register_terminal(portal.db, terminal_id, at=portal.clock(),
                                      vault=portal.vault)
    except NotFoundError:
        return terminals(portal, visit, 400, error="unknown_member", form=form)
    except KeyWrapError:
        return terminals(portal, visit, 503, error="keys_wrapped", form=form)
    except (TerminalTakenError, ServiceConfigurationError):  # a key left from before
        return terminals(portal, visit, 409, error="terminal_taken", form=form)
    except ValidationError:
        return terminals(portal, visit, 400, error="no_terminals_for", form=form)
    return terminals(portal, visit, 201, enrolled=keyed,
                     key_file=key_file_text(keyed.terminal_id, keyed.key))


def _change(portal: Portal, visit: Visit, status: TerminalStatus) -> Response:
    assert visit.session is not None
    try:
        terminal_id = check_terminal_id(visit.params["terminal"])
    except ValidationError:  # no terminal has such an id
        return portal.message(visit, "not_found", 404)
    try:
        with portal.db.write() as conn:
            set_terminal_status(conn, terminal_id, status,
                                by=visit.session.account.login,
                                reason=visit.form.get("reason", ""), at=portal.clock())
    except TerminalStatusError:
        return terminals(portal, visit, 409, error="status_unchanged")
    except NotFoundError:
        return portal.message(visit, "not_found", 404)
    except ValidationError:
        return terminals(portal, visit, 400, error="reason_required")
    return RedirectResponse(f"{visit.base}/operator/terminals", 303)


def block(portal: Portal, visit: Visit) -> Response:
    return _change(portal, visit, TerminalStatus.BLOCKED)


def unblock(portal: Portal, visit: Visit) -> Response:
    return _change(portal, visit, TerminalStatus.ACTIVE)
