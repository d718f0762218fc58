"""A small Discord-compatible server for end-to-end tests, on 127.0.0.1 over real sockets.

Gateway (``/gateway``, JSON text frames): HELLO, heartbeat ACK, IDENTIFY -> READY and
GUILD_CREATE, RESUME -> RESUMED, and ``dispatch()`` to push any event. REST under
``/api/v10``: the routes a bot calls (users/@me, application info, gateway/bot, command
sync, interaction callbacks, follow-up webhooks, channel messages). Every REST request and
every gateway frame the bot sends is recorded for the tests to assert on.

The server runs its own event loop in a thread, so the bot under test can run on another
loop (or thread) exactly as ``citebot discord`` runs it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

APP_ID = 900000000000000001
BOT_ID = APP_ID
GUILD_ID = 900000000000000100
CHANNEL_ID = 900000000000000200
OWNER_ID = 900000000000000300
TIMESTAMP = "2024-01-01T00:00:00.000000+00:00"


@dataclass
class Call:
    """One REST request the bot made."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    auth: str | None
    at: float = field(default_factory=time.monotonic)
    response: Any = None  # what the fake answered, e.g. the created message with its id


@dataclass
class Failure:
    method: str
    pattern: re.Pattern[str]
    status: int
    code: int
    message: str
    times: int


def user(uid: int, name: str, *, bot: bool = False) -> dict[str, Any]:
    return {"id": str(uid), "username": name, "discriminator": "0", "global_name": name,
            "avatar": None, "bot": bot, "flags": 0, "public_flags": 0}


BOT_USER = user(BOT_ID, "citebot", bot=True)


def member(uid: int, name: str) -> dict[str, Any]:
    return {"user": user(uid, name), "roles": [], "joined_at": TIMESTAMP, "deaf": False,
            "mute": False, "flags": 0, "permissions": "2248473465835073"}


def channel_payload(cid: int = CHANNEL_ID) -> dict[str, Any]:
    return {"id": str(cid), "type": 0, "guild_id": str(GUILD_ID), "name": f"news-{cid % 1000}",
            "position": 0, "permission_overwrites": [], "nsfw": False, "topic": None,
            "last_message_id": None, "rate_limit_per_user": 0, "parent_id": None}


class FakeDiscord:
    def __init__(self, token: str, *, heartbeat_ms: int = 1000) -> None:
        self.token = token
        self.reject_token = False  # REST answers 401 (discord.py: LoginFailure)
        self.reject_identify = False  # the gateway closes with 4004 on IDENTIFY
        self.heartbeat_ms = heartbeat_ms
        self.channels = [CHANNEL_ID, CHANNEL_ID + 1]
        self.calls: list[Call] = []
        self.frames: list[dict[str, Any]] = []  # gateway frames received from the bot
        self.heartbeats: list[float] = []
        self._failures: list[Failure] = []
        self._sockets: list[web.WebSocketResponse] = []
        self._seq = 0
        self._ids = itertools.count(910000000000000000)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    def start(self) -> FakeDiscord:
        started = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self._start())
            started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="fake-discord", daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("the fake Discord server did not start")
        return self

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    def stop(self) -> None:
        if self._loop is None:
            return

        async def shutdown() -> None:
            for ws in list(self._sockets):
                await ws.close()
            if self._runner is not None:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def _run(self, coro: Awaitable[Any]) -> Any:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)  # type: ignore[arg-type]

    # -- what the tests use ----------------------------------------------------------------
    def snowflake(self) -> int:
        return next(self._ids)

    def calls_matching(self, method: str, pattern: str) -> list[Call]:
        rx = re.compile(pattern)
        with self._lock:
            return [c for c in self.calls if c.method == method and rx.fullmatch(c.path)]

    def wait_calls(self, method: str, pattern: str, count: int = 1, timeout: float = 20) -> list[Call]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.calls_matching(method, pattern)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                seen = [(c.method, c.path) for c in self.calls]
                raise AssertionError(f"waited {timeout}s for {count} x {method} {pattern}; "
                                     f"got {len(found)}; all calls: {seen}")
            time.sleep(0.02)

    def fail(self, method: str, pattern: str, *, status: int = 403, code: int = 50013,
             message: str = "Missing Permissions", times: int = 1) -> None:
        """Answer the next ``times`` matching requests with an error."""
        with self._lock:
            self._failures.append(Failure(method, re.compile(pattern), status, code, message, times))

    def dispatch(self, event: str, data: dict[str, Any]) -> None:
        self._run(self._dispatch(event, data))

    def interaction(self, kind: int, data: dict[str, Any], *, user_id: int | None = None,
                    channel_id: int = CHANNEL_ID, message: dict[str, Any] | None = None) -> dict[str, Any]:
        """An INTERACTION_CREATE payload; ``kind`` 2 is an application command, 3 a component."""
        uid = user_id or self.snowflake()
        payload: dict[str, Any] = {
            "id": str(self.snowflake()), "application_id": str(APP_ID), "type": kind,
            "token": f"itok-{self.snowflake()}", "version": 1, "guild_id": str(GUILD_ID),
            "channel_id": str(channel_id), "channel": channel_payload(channel_id),
            "member": member(uid, f"user{uid % 10000}"), "data": data, "locale": "en-US",
            "guild_locale": "en-US", "app_permissions": "2248473465835073", "entitlements": [],
            "authorizing_integration_owners": {"0": str(GUILD_ID)}, "context": 0,
            "attachment_size_limit": 10485760,
        }
        if message is not None:
            payload["message"] = message
        return payload

    def slash(self, name: str, **options: Any) -> dict[str, Any]:
        user_id = options.pop("user_id", None)
        channel_id = options.pop("channel_id", CHANNEL_ID)
        opts = [{"name": k, "type": 5 if isinstance(v, bool) else 3, "value": v}
                for k, v in options.items()]
        data = {"id": str(self.snowflake()), "name": name, "type": 1, "options": opts}
        return self.interaction(2, data, user_id=user_id, channel_id=channel_id)

    def message(self, content: str, *, author_id: int | None = None,
                mentions: Sequence[dict[str, Any]] = (), channel_id: int = CHANNEL_ID) -> dict[str, Any]:
        uid = author_id or self.snowflake()
        return {
            "id": str(self.snowflake()), "channel_id": str(channel_id), "guild_id": str(GUILD_ID),
            "author": user(uid, f"user{uid % 10000}"),
            "member": {k: v for k, v in member(uid, "x").items() if k != "user"},
            "content": content, "timestamp": TIMESTAMP, "edited_timestamp": None, "tts": False,
            "mention_everyone": "@everyone" in content, "mentions": list(mentions),
            "mention_roles": [], "attachments": [], "embeds": [], "pinned": False, "type": 0,
            "flags": 0, "components": [],
        }

    def message_command(self, target: dict[str, Any], **kw: Any) -> dict[str, Any]:
        data = {"id": str(self.snowflake()), "name": "Find source", "type": 3,
                "target_id": target["id"], "resolved": {"messages": {target["id"]: target}}}
        return self.interaction(2, data, **kw)

    # -- gateway ---------------------------------------------------------------------------
    async def _send(self, ws: web.WebSocketResponse, op: int, data: Any, event: str | None = None) -> None:
        frame: dict[str, Any] = {"op": op, "d": data, "s": None, "t": event}
        if op == 0:
            self._seq += 1
            frame["s"] = self._seq
        await ws.send_str(json.dumps(frame))

    async def _dispatch(self, event: str, data: dict[str, Any]) -> None:
        if not self._sockets:
            raise AssertionError("no bot is connected to the gateway")
        for ws in list(self._sockets):
            await self._send(ws, 0, data, event)

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await self._send(ws, 10, {"heartbeat_interval": self.heartbeat_ms})
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            frame = json.loads(msg.data)
            with self._lock:
                self.frames.append(frame)
            op = frame.get("op")
            if op == 1:
                self.heartbeats.append(time.monotonic())
                await self._send(ws, 11, None)
            elif op == 2:
                if frame["d"].get("token") != self.token or self.reject_identify:
                    await ws.close(code=4004, message=b"Authentication failed.")
                    break
                self._sockets.append(ws)
                await self._ready(ws)
            elif op == 6:
                self._sockets.append(ws)
                await self._send(ws, 0, {}, "RESUMED")
        if ws in self._sockets:
            self._sockets.remove(ws)
        return ws

    async def _ready(self, ws: web.WebSocketResponse) -> None:
        await self._send(ws, 0, {
            "v": 10, "user": BOT_USER, "guilds": [{"id": str(GUILD_ID), "unavailable": True}],
            "session_id": "fake-session", "resume_gateway_url": self.gateway_url,
            "application": {"id": str(APP_ID), "flags": 0}, "shard": [0, 1],
            "private_channels": [], "relationships": [],
        }, "READY")
        everyone = {"id": str(GUILD_ID), "name": "@everyone", "permissions": "2248473465835073",
                    "position": 0, "color": 0, "hoist": False, "managed": False, "mentionable": False}
        await self._send(ws, 0, {
            "id": str(GUILD_ID), "name": "Newsroom", "icon": None, "owner_id": str(OWNER_ID),
            "roles": [everyone], "emojis": [], "stickers": [], "features": [], "member_count": 3,
            "members": [{**member(BOT_ID, "citebot"), "user": BOT_USER}],
            "channels": [channel_payload(c) for c in self.channels], "threads": [],
            "presences": [], "voice_states": [], "stage_instances": [],
            "guild_scheduled_events": [], "large": False, "unavailable": False,
            "joined_at": TIMESTAMP, "verification_level": 0, "default_message_notifications": 0,
            "explicit_content_filter": 0, "mfa_level": 0, "premium_tier": 0,
            "preferred_locale": "en-US", "system_channel_flags": 0, "nsfw_level": 0,
        }, "GUILD_CREATE")

    # -- REST ------------------------------------------------------------------------------
    @staticmethod
    def _json(data: Any, status: int = 200) -> web.Response:
        # Exactly "application/json": discord.py compares the header verbatim (no charset).
        return web.Response(status=status, body=json.dumps(data).encode(),
                            headers={"Content-Type": "application/json"})

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        body: Any = None
        if request.can_read_body:
            raw = await request.read()
            is_json = raw and request.content_type == "application/json"
            body = json.loads(raw) if is_json else raw.decode(errors="replace")
        call = Call(request.method, path, dict(request.query), body,
                    request.headers.get("Authorization"))
        status, call.response = await self._answer(call)
        with self._lock:  # recorded once answered, so tests see the response with the call
            self.calls.append(call)
        return self._json(call.response, status)

    async def _answer(self, call: Call) -> tuple[int, Any]:
        with self._lock:
            failure = next((f for f in self._failures if f.times > 0 and f.method == call.method
                            and f.pattern.fullmatch(call.path)), None)
            if failure is not None:
                failure.times -= 1
        if failure is not None:
            return failure.status, {"message": failure.message, "code": failure.code}
        # Interaction webhooks are authorised by their own token, like Discord's.
        if not call.path.startswith(("/webhooks/", "/interactions/")) and (
            self.reject_token or call.auth != f"Bot {self.token}"
        ):
            return 401, {"message": "401: Unauthorized", "code": 0}
        for method, pattern, handler in self._routes():
            m = re.fullmatch(pattern, call.path)
            if m and method == call.method:
                return 200, await handler(m, call.json)
        return 404, {"message": "404: Not Found", "code": 0}

    def _routes(self) -> list[tuple[str, str, Callable[[re.Match[str], Any], Awaitable[Any]]]]:
        return [
            ("GET", r"/users/@me", self._me),
            ("GET", r"/(?:oauth2/)?applications/@me", self._application),
            ("GET", r"/gateway(?:/bot)?", self._gateway_info),
            ("PUT", r"/applications/\d+(?:/guilds/\d+)?/commands", self._sync),
            ("GET", r"/applications/\d+(?:/guilds/\d+)?/commands", self._list_commands),
            ("POST", r"/interactions/(\d+)/([^/]+)/callback", self._callback),
            ("POST", r"/webhooks/\d+/[^/]+", self._webhook_message),
            ("PATCH", r"/webhooks/\d+/[^/]+/messages/[^/]+", self._webhook_message),
            ("GET", r"/webhooks/\d+/[^/]+/messages/[^/]+", self._webhook_message),
            ("DELETE", r"/webhooks/\d+/[^/]+/messages/[^/]+", self._nothing),
            ("POST", r"/channels/(\d+)/messages", self._channel_message),
            ("POST", r"/channels/\d+/typing", self._nothing),
        ]

    async def _me(self, m: re.Match[str], body: Any) -> Any:
        return {**BOT_USER, "verified": True, "mfa_enabled": False}

    async def _application(self, m: re.Match[str], body: Any) -> Any:
        return {"id": str(APP_ID), "name": "citebot", "description": "", "icon": None,
                "bot_public": True, "bot_require_code_grant": False, "verify_key": "00",
                "owner": user(OWNER_ID, "owner"), "team": None, "flags": 0,
                "bot": BOT_USER, "summary": ""}

    async def _gateway_info(self, m: re.Match[str], body: Any) -> Any:
        return {"url": self.gateway_url, "shards": 1, "session_start_limit": {
            "total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}}

    async def _sync(self, m: re.Match[str], body: Any) -> Any:
        self.synced = [{**c, "id": str(self.snowflake()), "application_id": str(APP_ID),
                        "version": "1", "description": c.get("description", "")} for c in body]
        return self.synced

    async def _list_commands(self, m: re.Match[str], body: Any) -> Any:
        return getattr(self, "synced", [])

    def _message(self, body: Any, channel_id: int = CHANNEL_ID) -> dict[str, Any]:
        body = body if isinstance(body, dict) else {}
        return {
            "id": str(self.snowflake()), "channel_id": str(channel_id), "author": BOT_USER,
            "content": body.get("content") or "", "timestamp": TIMESTAMP, "edited_timestamp": None,
            "tts": False, "mention_everyone": False, "mentions": [], "mention_roles": [],
            "attachments": [], "embeds": body.get("embeds") or [], "pinned": False, "type": 0,
            "flags": body.get("flags", 0), "components": body.get("components") or [],
            "webhook_id": str(APP_ID), "application_id": str(APP_ID),
        }

    async def _callback(self, m: re.Match[str], body: Any) -> Any:
        kind, data = body.get("type"), body.get("data") or {}
        out: dict[str, Any] = {"interaction": {
            "id": m.group(1), "type": 2, "response_message_id": str(self.snowflake()),
            "response_message_loading": kind == 5,
            "response_message_ephemeral": bool(data.get("flags", 0) & 64)}}
        if kind in (4, 5, 7):
            out["resource"] = {"type": kind, "message": self._message(data)}
        return out

    async def _webhook_message(self, m: re.Match[str], body: Any) -> Any:
        return self._message(body)

    async def _channel_message(self, m: re.Match[str], body: Any) -> Any:
        return self._message(body, int(m.group(1)))

    async def _nothing(self, m: re.Match[str], body: Any) -> Any:
        return {}
