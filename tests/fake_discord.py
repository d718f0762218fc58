"""A small Discord-compatible server for end-to-end tests, on 127.0.0.1 over real sockets.

Gateway (``/gateway``, JSON text frames): HELLO, heartbeat ACK, IDENTIFY -> READY and one
GUILD_CREATE per guild of the session's shard, RESUME -> RESUMED, and ``dispatch()`` to push
any event to the session whose shard owns its guild (``(guild_id >> 22) % shard_count``, as
Discord routes them). REST under ``/api/v10``: the routes a bot calls (users/@me, application
info, gateway/bot with the recommended shard count, command sync, interaction callbacks of
every response type, follow-up webhooks, channel messages, threads started from a message or
not, which also dispatch THREAD_CREATE). Messages the bot creates are kept, so tests can press
their buttons (interaction type 3, MESSAGE_COMPONENT, carrying the message as Discord does) or
reply to them. Every REST request and every gateway frame the bot sends is recorded for the
tests to assert on.

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

DISCORD_EPOCH_MS = 1420070400000  # 2015-01-01, the epoch of Discord's snowflake ids
APP_ID = 900000000000000001
BOT_ID = APP_ID
GUILD_ID = 900000000000000100  # on shard 1 of 2
GUILD2_ID = GUILD_ID + (1 << 22)  # on shard 0 of 2
CHANNEL_ID = 900000000000000200
CHANNEL2_ID = 900000000000000400  # in GUILD2_ID
OWNER_ID = 900000000000000300
TIMESTAMP = "2024-01-01T00:00:00.000000+00:00"
EPHEMERAL = 1 << 6


def shard_of(guild_id: int, shard_count: int) -> int:
    return (guild_id >> 22) % max(shard_count, 1)


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


def channel_payload(cid: int = CHANNEL_ID, guild_id: int = GUILD_ID) -> dict[str, Any]:
    return {"id": str(cid), "type": 0, "guild_id": str(guild_id), "name": f"news-{cid % 1000}",
            "position": 0, "permission_overwrites": [], "nsfw": False, "topic": None,
            "last_message_id": None, "rate_limit_per_user": 0, "parent_id": None,
            "default_auto_archive_duration": 1440}


def thread_payload(tid: int, parent_id: int, guild_id: int, name: str, owner_id: int = BOT_ID,
                   auto_archive_duration: int = 1440) -> dict[str, Any]:
    """A public thread (type 11) as Discord returns it on creation."""
    return {"id": str(tid), "type": 11, "guild_id": str(guild_id), "parent_id": str(parent_id),
            "owner_id": str(owner_id), "name": name, "last_message_id": None, "message_count": 0,
            "member_count": 1, "total_message_sent": 0, "rate_limit_per_user": 0, "flags": 0,
            "thread_metadata": {"archived": False, "auto_archive_duration": auto_archive_duration,
                                "archive_timestamp": TIMESTAMP, "locked": False,
                                "create_timestamp": TIMESTAMP},
            "member": {"id": str(tid), "user_id": str(owner_id), "join_timestamp": TIMESTAMP,
                       "flags": 0}}


class FakeDiscord:
    def __init__(self, token: str, *, heartbeat_ms: int = 1000, recommended_shards: int = 1,
                 max_concurrency: int = 1) -> None:
        self.token = token
        self.reject_token = False  # REST answers 401 (discord.py: LoginFailure)
        self.reject_identify = False  # the gateway closes with 4004 on IDENTIFY
        self.heartbeat_ms = heartbeat_ms
        self.recommended_shards = recommended_shards  # GET /gateway/bot "shards"
        self.max_concurrency = max_concurrency  # IDENTIFYs allowed at once
        self.guilds = [GUILD_ID, GUILD2_ID]
        self.channels: dict[int, int] = {CHANNEL_ID: GUILD_ID, CHANNEL_ID + 1: GUILD_ID,
                                         CHANNEL2_ID: GUILD2_ID}  # channel -> guild
        self.threads: dict[int, dict[str, Any]] = {}  # thread id -> payload
        self.messages: dict[str, dict[str, Any]] = {}  # every message created or dispatched
        self.calls: list[Call] = []
        self.frames: list[dict[str, Any]] = []  # gateway frames received from the bot
        self.identifies: list[dict[str, Any]] = []  # IDENTIFY payloads, in order
        self.identify_times: list[float] = []
        self.deliveries: list[tuple[int, str]] = []  # (shard, event) of every dispatch
        self.heartbeats: list[float] = []
        self.shard_count = 1
        self._failures: list[Failure] = []
        self._sessions: dict[int, web.WebSocketResponse] = {}  # shard -> live session
        self._sockets: list[web.WebSocketResponse] = []
        self._interactions: dict[str, dict[str, Any]] = {}  # token -> interaction payload
        self._originals: dict[str, str] = {}  # token -> id of the original response message
        self._loading: set[str] = set()  # tokens whose original is still "thinking"
        self._seq = 0
        # Snowflakes as Discord makes them: milliseconds since 2015 in the top bits, so an
        # interaction's created_at (the asking date citebot answers as of) is the time it was sent.
        self._ids = itertools.count(1)
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
    def snowflake(self, at: float | None = None) -> int:
        """A new id whose timestamp is ``at`` (seconds since 1970; default now)."""
        ms = int((time.time() if at is None else at) * 1000) - DISCORD_EPOCH_MS
        return (ms << 22) | (next(self._ids) & 0x3FFFFF)

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

    def guild_of(self, channel_id: int) -> int:
        if channel_id in self.threads:
            return int(self.threads[channel_id]["guild_id"])
        return self.channels.get(channel_id, GUILD_ID)

    def channel_object(self, channel_id: int) -> dict[str, Any]:
        if channel_id in self.threads:
            return self.threads[channel_id]
        return channel_payload(channel_id, self.guild_of(channel_id))

    def interaction(self, kind: int, data: dict[str, Any], *, user_id: int | None = None,
                    channel_id: int = CHANNEL_ID, message: dict[str, Any] | None = None,
                    at: float | None = None) -> dict[str, Any]:
        """An INTERACTION_CREATE payload; ``kind`` 2 is an application command, 3 a component
        (then ``message`` is the message that holds it, as Discord sends it); ``at``: when it was
        sent (its id's timestamp, seconds since 1970), default now."""
        uid = user_id or self.snowflake()
        guild_id = self.guild_of(channel_id)
        payload: dict[str, Any] = {
            "id": str(self.snowflake(at)), "application_id": str(APP_ID), "type": kind,
            "token": f"itok-{self.snowflake()}", "version": 1, "guild_id": str(guild_id),
            "channel_id": str(channel_id), "channel": self.channel_object(channel_id),
            "member": member(uid, f"user{uid % 10000}"), "data": data, "locale": "en-US",
            "guild_locale": "en-US", "app_permissions": "2248473465835073", "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild_id)}, "context": 0,
            "attachment_size_limit": 10485760,
        }
        if message is not None:
            payload["message"] = message
        with self._lock:
            self._interactions[payload["token"]] = payload
        return payload

    def slash(self, name: str, **options: Any) -> dict[str, Any]:
        user_id = options.pop("user_id", None)
        channel_id = options.pop("channel_id", CHANNEL_ID)
        at = options.pop("at", None)
        opts = [{"name": k, "type": 5 if isinstance(v, bool) else 3, "value": v}
                for k, v in options.items()]
        data = {"id": str(self.snowflake()), "name": name, "type": 1, "options": opts}
        return self.interaction(2, data, user_id=user_id, channel_id=channel_id, at=at)

    def click(self, message: dict[str, Any], custom_id: str, *, user_id: int | None = None) -> dict[str, Any]:
        """A button press (MESSAGE_COMPONENT) on ``message``, in the message's channel."""
        ids = [c.get("custom_id") for row in message.get("components") or [] for c in row["components"]]
        assert custom_id in ids, f"{custom_id!r} is not a button of that message: {ids}"
        data = {"custom_id": custom_id, "component_type": 2}
        return self.interaction(3, data, user_id=user_id, channel_id=int(message["channel_id"]),
                                message=message)

    def message(self, content: str, *, author_id: int | None = None,
                mentions: Sequence[dict[str, Any]] = (), channel_id: int = CHANNEL_ID,
                reply_to: dict[str, Any] | None = None, ping: bool = True) -> dict[str, Any]:
        """A user's message; ``reply_to`` makes it a reply (type 19) to that message, which with
        ``ping`` (Discord's default) adds the replied-to author to ``mentions``."""
        uid = author_id or self.snowflake()
        mentioned = list(mentions)
        msg: dict[str, Any] = {
            "id": str(self.snowflake()), "channel_id": str(channel_id),
            "guild_id": str(self.guild_of(channel_id)), "author": user(uid, f"user{uid % 10000}"),
            "member": {k: v for k, v in member(uid, "x").items() if k != "user"},
            "content": content, "timestamp": TIMESTAMP, "edited_timestamp": None, "tts": False,
            "mention_everyone": "@everyone" in content, "mentions": mentioned,
            "mention_roles": [], "attachments": [], "embeds": [], "pinned": False, "type": 0,
            "flags": 0, "components": [],
        }
        if reply_to is not None:
            msg["type"] = 19
            msg["message_reference"] = {"type": 0, "message_id": reply_to["id"],
                                        "channel_id": reply_to["channel_id"],
                                        "guild_id": str(self.guild_of(int(reply_to["channel_id"])))}
            msg["referenced_message"] = reply_to
            if ping and all(m["id"] != reply_to["author"]["id"] for m in mentioned):
                mentioned.append(reply_to["author"])
        with self._lock:
            self.messages[msg["id"]] = msg
        return msg

    def message_command(self, target: dict[str, Any], **kw: Any) -> dict[str, Any]:
        data = {"id": str(self.snowflake()), "name": "Find source", "type": 3,
                "target_id": target["id"], "resolved": {"messages": {target["id"]: target}}}
        return self.interaction(2, data, **kw)

    def original(self, token: str) -> dict[str, Any]:
        """The interaction's original response message as it stands now."""
        with self._lock:
            return self.messages[self._originals[token]]

    # -- gateway ---------------------------------------------------------------------------
    async def _send(self, ws: web.WebSocketResponse, op: int, data: Any, event: str | None = None) -> None:
        frame: dict[str, Any] = {"op": op, "d": data, "s": None, "t": event}
        if op == 0:
            self._seq += 1
            frame["s"] = self._seq
        await ws.send_str(json.dumps(frame))

    async def _dispatch(self, event: str, data: dict[str, Any]) -> None:
        if not self._sessions:
            raise AssertionError("no bot is connected to the gateway")
        guild_id = data.get("guild_id")
        shard = shard_of(int(guild_id), self.shard_count) if guild_id else 0
        ws = self._sessions.get(shard)
        if ws is None:
            raise AssertionError(f"no session for shard {shard} (sessions: {sorted(self._sessions)})")
        with self._lock:
            self.deliveries.append((shard, event))
        await self._send(ws, 0, data, event)

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await self._send(ws, 10, {"heartbeat_interval": self.heartbeat_ms})
        shard: int | None = None
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
                shard, count = frame["d"].get("shard") or [0, 1]
                with self._lock:
                    self.identifies.append(frame["d"])
                    self.identify_times.append(time.monotonic())
                self.shard_count = count
                self._sessions[shard] = ws
                self._sockets.append(ws)
                await self._ready(ws, shard, count)
            elif op == 6:
                shard = int(str(frame["d"].get("session_id", "-0")).rsplit("-", 1)[-1])
                self._sessions[shard] = ws
                self._sockets.append(ws)
                await self._send(ws, 0, {}, "RESUMED")
        if ws in self._sockets:
            self._sockets.remove(ws)
        if shard is not None and self._sessions.get(shard) is ws:
            del self._sessions[shard]
        return ws

    async def _ready(self, ws: web.WebSocketResponse, shard: int, count: int) -> None:
        mine = [g for g in self.guilds if shard_of(g, count) == shard]
        await self._send(ws, 0, {
            "v": 10, "user": BOT_USER, "guilds": [{"id": str(g), "unavailable": True} for g in mine],
            "session_id": f"fake-session-{shard}", "resume_gateway_url": self.gateway_url,
            "application": {"id": str(APP_ID), "flags": 0}, "shard": [shard, count],
            "private_channels": [], "relationships": [],
        }, "READY")
        for g in mine:
            await self._send(ws, 0, self._guild_create(g), "GUILD_CREATE")

    def _guild_create(self, guild_id: int) -> dict[str, Any]:
        everyone = {"id": str(guild_id), "name": "@everyone", "permissions": "2248473465835073",
                    "position": 0, "color": 0, "hoist": False, "managed": False, "mentionable": False}
        return {
            "id": str(guild_id), "name": f"Newsroom {guild_id % 1000}", "icon": None,
            "owner_id": str(OWNER_ID), "roles": [everyone], "emojis": [], "stickers": [],
            "features": [], "member_count": 3,
            "members": [{**member(BOT_ID, "citebot"), "user": BOT_USER}],
            "channels": [channel_payload(c, g) for c, g in self.channels.items() if g == guild_id],
            # Active threads, as Discord lists them to a new session.
            "threads": [t for t in self.threads.values() if int(t["guild_id"]) == guild_id],
            "presences": [], "voice_states": [], "stage_instances": [],
            "guild_scheduled_events": [], "large": False, "unavailable": False,
            "joined_at": TIMESTAMP, "verification_level": 0, "default_message_notifications": 0,
            "explicit_content_filter": 0, "mfa_level": 0, "premium_tier": 0,
            "preferred_locale": "en-US", "system_channel_flags": 0, "nsfw_level": 0,
        }

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
            ("POST", r"/webhooks/\d+/([^/]+)", self._followup),
            ("PATCH", r"/webhooks/\d+/([^/]+)/messages/([^/]+)", self._edit_webhook_message),
            ("GET", r"/webhooks/\d+/([^/]+)/messages/([^/]+)", self._get_webhook_message),
            ("DELETE", r"/webhooks/\d+/([^/]+)/messages/([^/]+)", self._delete_webhook_message),
            ("POST", r"/channels/(\d+)/messages", self._channel_message),
            ("POST", r"/channels/(\d+)/messages/(\d+)/threads", self._thread_from_message),
            ("POST", r"/channels/(\d+)/threads", self._thread_without_message),
            ("GET", r"/channels/(\d+)", self._get_channel),
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
        return {"url": self.gateway_url, "shards": self.recommended_shards, "session_start_limit": {
            "total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": self.max_concurrency}}

    async def _sync(self, m: re.Match[str], body: Any) -> Any:
        self.synced = [{**c, "id": str(self.snowflake()), "application_id": str(APP_ID),
                        "version": "1", "description": c.get("description", "")} for c in body]
        return self.synced

    async def _list_commands(self, m: re.Match[str], body: Any) -> Any:
        return getattr(self, "synced", [])

    def _message(self, body: Any, channel_id: int = CHANNEL_ID, *, webhook: bool = True,
                 message_id: str | None = None) -> dict[str, Any]:
        """A message the bot created (kept, so tests can press its buttons or reply to it)."""
        body = body if isinstance(body, dict) else {}
        msg = {
            "id": message_id or str(self.snowflake()), "channel_id": str(channel_id),
            "guild_id": str(self.guild_of(channel_id)), "author": BOT_USER,
            "content": body.get("content") or "", "timestamp": TIMESTAMP, "edited_timestamp": None,
            "tts": False, "mention_everyone": False, "mentions": [], "mention_roles": [],
            "attachments": [], "embeds": body.get("embeds") or [], "pinned": False, "type": 0,
            "flags": body.get("flags", 0), "components": body.get("components") or [],
            "application_id": str(APP_ID),
        }
        if webhook:
            msg["webhook_id"] = str(APP_ID)
        if body.get("message_reference"):
            msg["type"] = 19
            msg["message_reference"] = body["message_reference"]
        with self._lock:
            self.messages[msg["id"]] = msg
        return msg

    def _channel_for(self, token: str) -> int:
        with self._lock:
            payload = self._interactions.get(token)
        return int(payload["channel_id"]) if payload else CHANNEL_ID

    async def _callback(self, m: re.Match[str], body: Any) -> Any:
        kind, data = body.get("type"), body.get("data") or {}
        token = m.group(2)
        with self._lock:
            source = self._interactions.get(token) or {}
        out: dict[str, Any] = {"interaction": {
            "id": m.group(1), "type": source.get("type", 2),
            "response_message_loading": kind == 5,
            "response_message_ephemeral": bool(data.get("flags", 0) & EPHEMERAL)}}
        if kind in (4, 5):  # a new message: the answer, or "thinking" until the first follow-up
            msg = self._message(data, self._channel_for(token))
            with self._lock:
                self._originals[token] = msg["id"]
                if kind == 5:
                    self._loading.add(token)
            out["interaction"]["response_message_id"] = msg["id"]
            out["resource"] = {"type": kind, "message": msg}
        elif kind in (6, 7):  # a component's message is the original; 7 edits it now
            target = source.get("message") or {}
            with self._lock:
                self._originals[token] = target.get("id", "")
            if kind == 7 and target:
                msg = self._edit(target["id"], data)
                out["interaction"]["response_message_id"] = msg["id"]
                out["resource"] = {"type": kind, "message": msg}
        return out

    def _edit(self, message_id: str, body: Any) -> dict[str, Any]:
        with self._lock:
            known = message_id in self.messages
        if not known:
            self._message({}, message_id=message_id)
        body = body if isinstance(body, dict) else {}
        with self._lock:
            msg = self.messages[message_id]
            for key, empty in (("content", ""), ("embeds", []), ("components", []), ("flags", 0)):
                if key in body:
                    msg[key] = body[key] if body[key] is not None else empty
            msg["edited_timestamp"] = TIMESTAMP
            return dict(msg)

    async def _followup(self, m: re.Match[str], body: Any) -> Any:
        token = m.group(1)
        with self._lock:
            loading = token in self._loading
            self._loading.discard(token)
            original = self._originals.get(token, "")
        if loading and original:
            # As Discord does: the first follow-up after a deferral replaces the "thinking"
            # message, keeping the deferral's ephemeral flag; later ones are new messages.
            with self._lock:
                flags = self.messages[original].get("flags", 0)
            return self._edit(original, {**(body if isinstance(body, dict) else {}), "flags": flags})
        return self._message(body, self._channel_for(token))

    async def _delete_webhook_message(self, m: re.Match[str], body: Any) -> Any:
        token = m.group(1)
        target = self._webhook_target(token, m.group(2))
        with self._lock:
            if m.group(2) == "@original":
                self._loading.discard(token)
            self.messages.pop(target, None)
        return {}

    def _webhook_target(self, token: str, message_id: str) -> str:
        if message_id == "@original":
            with self._lock:
                return self._originals.get(token, "")
        return message_id

    async def _edit_webhook_message(self, m: re.Match[str], body: Any) -> Any:
        target = self._webhook_target(m.group(1), m.group(2))
        if not target:
            return self._message(body, self._channel_for(m.group(1)))
        return self._edit(target, body)

    async def _get_webhook_message(self, m: re.Match[str], body: Any) -> Any:
        target = self._webhook_target(m.group(1), m.group(2))
        with self._lock:
            found = self.messages.get(target)
        return found or self._message({}, self._channel_for(m.group(1)))

    async def _channel_message(self, m: re.Match[str], body: Any) -> Any:
        return self._message(body, int(m.group(1)), webhook=False)

    async def _new_thread(self, parent: int, body: Any, thread_id: int) -> Any:
        body = body if isinstance(body, dict) else {}
        thread = thread_payload(thread_id, parent, self.guild_of(parent), body.get("name", ""),
                                auto_archive_duration=body.get("auto_archive_duration") or 1440)
        with self._lock:
            self.threads[thread_id] = thread
        # Discord tells the bot's session about a thread it created.
        await self._dispatch("THREAD_CREATE", {**thread, "newly_created": True})
        return thread

    async def _thread_from_message(self, m: re.Match[str], body: Any) -> Any:
        # A thread started from a message has that message's id.
        return await self._new_thread(int(m.group(1)), body, int(m.group(2)))

    async def _thread_without_message(self, m: re.Match[str], body: Any) -> Any:
        return await self._new_thread(int(m.group(1)), body, self.snowflake())

    async def _get_channel(self, m: re.Match[str], body: Any) -> Any:
        return self.channel_object(int(m.group(1)))

    async def _nothing(self, m: re.Match[str], body: Any) -> Any:
        return {}
