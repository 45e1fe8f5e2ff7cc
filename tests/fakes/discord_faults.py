"""The fake Discord's faults and the rules that make them survivable, as Discord has them.

Mixed into :class:`tests.fakes.discord_lead.FakeDiscord`:

- **Nonces.** A message post with ``nonce`` and ``enforce_nonce`` from an author who posted the same nonce in
  the last few minutes returns the message already created, and creates none (Discord's rule); a nonce is at
  most 25 characters (400, code 50035, with Discord's error shape).
- **Rate limits on demand.** :meth:`rate_limit_next` answers the next matching request with a 429 as Discord
  sends it: per route (``X-RateLimit-*`` headers, ``X-RateLimit-Scope: user``) or global (``"global": true``,
  ``X-RateLimit-Global``, ``X-RateLimit-Scope: global``), ``retry_after`` in the body and ``Retry-After``.
- **A post that never answers.** :meth:`stall_posts` creates the message (and sends MESSAGE_CREATE) but holds
  the HTTP answer back, the moment a crash would leave a bot not knowing its post went through.
- **Gateway faults.** :meth:`close_gateway` drops every connection with a close code: 1001 and 4000 keep the
  session resumable (events sent meanwhile are replayed on RESUME), 4009 ("session timed out") does not, so
  the RESUME is answered with op 9 and the client identifies again. :meth:`invalidate_sessions` sends op 9
  (not resumable) on live connections. :meth:`gateway_down` is an outage: the connections dropped and new
  ones refused (503) until :meth:`gateway_up`.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import time
from typing import Any

from aiohttp import web

from tests.fakes.discord_guild import error, json_response

NONCE_WINDOW_SECONDS = 300.0  # "the past few minutes"
MAX_NONCE = 25
RESUMABLE_CLOSES = {1001, 4000, 4001, 4002, 4003, 4005, 4007, 4008}


def invalid_form(field_name: str, code: str, message: str) -> web.Response:
    return error(400, 50035, "Invalid Form Body",
                 {field_name: {"_errors": [{"code": code, "message": message}]}})


class Reliability:
    """State and rules; FakeDiscord supplies sessions, dead_sessions, messages and _public."""

    sessions: list[Any]
    dead_sessions: dict[str, Any]
    messages: dict[int, dict[str, Any]]

    def _init_reliability(self) -> None:
        self.nonces: dict[tuple[int, str], tuple[int, float]] = {}  # (author, nonce) -> (message id, when)
        self.limit_faults: list[tuple[str, float, bool]] = []  # (pattern, retry_after, global)
        self.fault_limited: list[tuple[str, str]] = []
        self.stalled_posts = 0
        self._stall: asyncio.Event | None = None
        self._stall_after = 0
        self.duplicate_nonces: list[str] = []  # nonces posted again and answered with the first message
        self.gateway_is_down = False
        self.refused_connects = 0  # gateway connections refused while it was down

    @staticmethod
    def _public(message: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    # -- nonces and limits on a message post

    def _check_post(self, author: dict[str, Any],
                    body: dict[str, Any]) -> web.Response | dict[str, Any] | None:
        """A refusal, the message already created for this nonce, or None (create it). (Content over 2,000
        characters is refused before this: tests/fakes/discord_edits.py.)"""
        nonce = body.get("nonce")
        if nonce is None:
            return None
        if len(str(nonce)) > MAX_NONCE:
            return invalid_form("nonce", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_NONCE} or fewer in length.")
        if not body.get("enforce_nonce"):
            return None
        seen = self.nonces.get((int(author.get("id") or 0), str(nonce)))
        fresh = seen is not None and time.monotonic() - seen[1] < NONCE_WINDOW_SECONDS
        if seen is not None and fresh and seen[0] in self.messages:
            self.duplicate_nonces.append(str(nonce))
            return self._public(self.messages[seen[0]])
        return None

    def _remember_nonce(self, author: dict[str, Any], body: dict[str, Any], message: dict[str, Any]) -> None:
        nonce = body.get("nonce")
        if nonce is not None:
            message["nonce"] = str(nonce)  # Discord echoes it in the answer and in MESSAGE_CREATE
            if body.get("enforce_nonce"):
                self.nonces[(int(author.get("id") or 0), str(nonce))] = (int(message["id"]), time.monotonic())

    def rate_limit_next(self, pattern: str, retry_after: float, *, global_: bool = False) -> None:
        """Answer the next request matching ``pattern`` ("METHOD /path", shell wildcards) with a 429."""
        self.limit_faults.append((pattern, retry_after, global_))

    def _limit_fault(self, method: str, path: str) -> web.Response | None:
        for fault in self.limit_faults:
            pattern, retry, is_global = fault
            if not fnmatch.fnmatch(f"{method} {path}", pattern):
                continue
            self.limit_faults.remove(fault)
            self.fault_limited.append((method, path))
            body = {"message": "You are being rate limited.", "retry_after": retry, "global": is_global}
            headers = {"Retry-After": str(max(1, round(retry))), "Via": "1.1 google",
                       "X-RateLimit-Scope": "global" if is_global else "user"}
            if is_global:
                headers["X-RateLimit-Global"] = "true"
            else:
                headers.update({"X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "0",
                                "X-RateLimit-Reset": f"{time.time() + retry:.3f}",
                                "X-RateLimit-Reset-After": f"{retry:.3f}",
                                "X-RateLimit-Bucket": "fault-" + path.strip("/").split("/")[0]})
            limited = json_response(body, 429)
            limited.headers.update(headers)
            return limited
        return None

    # -- a post whose answer never comes

    def stall_posts(self, *, after: int = 0) -> None:
        """From now on (after the next ``after`` posts), message posts are created but not answered until
        :meth:`release_posts`."""
        self._stall = asyncio.Event()
        self._stall_after = after

    def release_posts(self) -> None:
        if self._stall is not None:
            self._stall.set()
            self._stall = None

    async def _maybe_stall(self) -> None:
        stall = self._stall
        if stall is not None and self._stall_after > 0:
            self._stall_after -= 1
        elif stall is not None:
            self.stalled_posts += 1
            await stall.wait()

    # -- the gateway

    async def close_gateway(self, code: int) -> None:
        """Drop every gateway connection with ``code`` (resumable or not, as Discord treats it)."""
        for session in list(self.sessions):
            session.closed_by_server = True
            if code not in RESUMABLE_CLOSES:
                session.resumable = False
            await session.ws.close(code=code, message=b"fault")

    async def gateway_down(self) -> None:
        """An outage: every gateway connection dropped (1001, resumable) and each new one refused (503 to
        the WebSocket handshake) until :meth:`gateway_up`."""
        self.gateway_is_down = True
        await self.close_gateway(1001)

    def gateway_up(self) -> None:
        self.gateway_is_down = False

    def _refuse_connect(self) -> web.Response | None:
        if not self.gateway_is_down:
            return None
        self.refused_connects += 1
        return web.Response(status=503, text="upstream connect error")

    async def invalidate_sessions(self) -> None:
        """op 9, d=false: the session is gone; the client must IDENTIFY again."""
        for session in list(self.sessions):
            session.resumable = False
            await session.ws.send_str(json.dumps({"op": 9, "d": False, "s": None, "t": None}))
