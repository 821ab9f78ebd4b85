"""Every console request that changes something goes into the activity log with its user.

An ASGI middleware rather than a line in each route: a route added later is logged too. It
records after the response started, so the entry says how it went (done, refused, failed).
Logins, logouts, invitations and password changes log themselves with more detail.
"""

from __future__ import annotations

import re
from typing import Any

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledgerbridge.web.roles import SAFE_METHODS, describe

# These write their own, more specific entries.
_SELF_LOGGED = ("/login", "/logout", "/invite/")
_OPENED = re.compile(r"[?&]open=([^&#]+)")


class ActionAudit:
    def __init__(self, app: ASGIApp, console: Any) -> None:
        self.app = app
        self.console = console

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] in SAFE_METHODS
            or scope["path"].startswith(_SELF_LOGGED)
        ):
            await self.app(scope, receive, send)
            return
        seen: dict[str, Any] = {}

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
                for name, value in message.get("headers") or []:
                    if name == b"location":
                        seen["location"] = value.decode("latin-1")
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            await anyio.to_thread.run_sync(self._record, scope, seen)

    def _record(self, scope: Scope, seen: dict[str, Any]) -> None:
        user = (scope.get("state") or {}).get("console_user")
        if user is None:
            return  # not logged in: refused by the guard before anything happened
        action, kind, record = describe(scope["method"], scope["path"])
        status = int(seen.get("status", 500))
        opened = _OPENED.search(seen.get("location", ""))
        if kind is None and opened:  # a created invoice: the redirect opens it
            kind, record = "invoice", opened.group(1)
        outcome = "done" if status < 400 else "refused" if status == 403 else "failed"
        connection_id = None
        if self.console.connected:
            try:
                connection_id = self.console.connection_id
            except Exception:  # noqa: BLE001 - the log entry matters more than its connection
                connection_id = None
        client = scope.get("client")
        self.console.store.record_event(
            action,
            username=getattr(user, "username", None),
            outcome=outcome,
            connection_id=connection_id,
            object_type=kind,
            record=record,
            detail={"status": status} if status >= 400 else None,
            client=client[0] if client else None,
        )
