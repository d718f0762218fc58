"""The Discord bot end to end: the real client, started the way ``citebot discord`` starts
it (``run_discord``), over real sockets against the fake server in ``fake_discord.py``,
answering from the real engine over the seed index."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from discord.gateway import DiscordWebSocket
from discord.http import Route
from fake_discord import (
    BOT_ID,
    BOT_USER,
    CHANNEL2_ID,
    CHANNEL_ID,
    GUILD2_ID,
    GUILD_ID,
    Call,
    FakeDiscord,
    shard_of,
)
from seed_questions import BORDER, SVR

from bot import render_discord as render
from bot.discord_app import (
    MISSING_TOKEN,
    REJECTED_TOKEN,
    VOTE_ID,
    CitebotClient,
    Cooldown,
    RedactFilter,
    run_discord,
)
from bot.settings import Settings
from retrieval.feedback import FeedbackStore

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "MTAxNDk.fake-bot-token.Sup3rSecretValue_XYZ"
ANSWERABLE = "Is Russia massing troops right on Ukraine's border, according to Ukraine's border service?"
UNANSWERABLE = "Who won the 2018 FIFA World Cup?"
VERBATIM = ("The Kremlin has dismissed the concerns as unfounded, instead complaining about "
            "increased NATO activity in the region.")


class Capture(logging.Handler):
    """Every log record of the run, formatted with its traceback, from any thread."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.lines: list[tuple[int, str]] = []
        self._lock2 = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        text = self.format(record)
        with self._lock2:
            self.lines.append((record.levelno, text))

    def text(self, min_level: int = logging.DEBUG) -> str:
        with self._lock2:
            return "\n".join(t for lvl, t in self.lines if lvl >= min_level)


class FlakyEngine:
    """The real engine, except that a question holding BOOM fails like a bug would, and each
    answer can be made slow to show that questions run side by side."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.delay = 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def answer(self, question: str, **kw: Any) -> Any:
        if "BOOM" in question:
            raise RuntimeError("kaboom inside the engine")
        time.sleep(self.delay)
        return self._inner.answer(question, **kw)


@dataclass
class Running:
    fake: FakeDiscord
    client: CitebotClient
    logs: Capture
    engine: FlakyEngine


def settings_for(fake: FakeDiscord, **kw: Any) -> Settings:
    values: dict[str, Any] = {
        "discord_token": TOKEN, "discord_api_base": fake.api_base, "discord_guild_id": GUILD_ID,
        "discord_channels": [CHANNEL_ID, CHANNEL_ID + 1000, CHANNEL2_ID],
        "discord_cooldown_seconds": 60,
        "discord_cooldown_burst": 2, "log_level": "DEBUG",
    }
    values.update(kw)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def start_bot(settings: Settings, engine: Any, sync: bool = True) -> tuple[threading.Thread, dict[str, Any]]:
    out: dict[str, Any] = {}

    def run() -> None:
        out["rc"] = run_discord(settings, sync=sync, engine=engine,
                                started=lambda c: out.setdefault("client", c))

    thread = threading.Thread(target=run, name="citebot-discord", daemon=True)
    thread.start()
    return thread, out


def private_index(seed_index_dir: Path, dest: Path) -> Path:
    """A copy of the seed index. The bot keeps its state database (answers, votes, threads) in
    the index folder; the session's shared seed index must stay exactly as it was built."""
    shutil.copytree(seed_index_dir, dest, ignore=shutil.ignore_patterns("state.sqlite*"))
    return dest


@pytest.fixture(scope="module")
def discord_engine(seed_index_dir: Path, embedder: Any,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from retrieval import Citebot

    bot = Citebot(private_index(seed_index_dir, tmp_path_factory.mktemp("discord") / "index"),
                  embedder=embedder)
    yield bot
    bot.close()


@pytest.fixture(scope="module")
def running(discord_engine: Any) -> Iterator[Running]:
    saved = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    root = logging.getLogger()
    capture, old_level = Capture(), root.level
    root.addHandler(capture)  # before the bot starts, so its redaction filter covers it
    root.setLevel(logging.DEBUG)
    # Two shards, as Discord would recommend for a larger bot: two gateway sessions, two guilds.
    fake = FakeDiscord(TOKEN, heartbeat_ms=400, recommended_shards=2, max_concurrency=2).start()
    engine = FlakyEngine(discord_engine)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(render, "SOURCES_PER_PAGE", 1)  # two seed articles make two pages
        # The explicit gateway URL; test_gateway_from_api covers asking GET /gateway/bot.
        thread, out = start_bot(settings_for(fake, discord_gateway_url=fake.gateway_url), engine)
        deadline = time.monotonic() + 30
        while not (out.get("client") and out["client"].is_ready()):
            assert thread.is_alive(), f"the bot stopped: {out}"
            assert time.monotonic() < deadline, "the bot did not get ready"
            time.sleep(0.05)
    client: CitebotClient = out["client"]
    try:
        yield Running(fake, client, capture, engine)
    finally:
        asyncio.run_coroutine_threadsafe(client.close(), client.loop).result(10)
        thread.join(15)
        fake.stop()
        root.removeHandler(capture)
        root.setLevel(old_level)
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = saved
    assert out["rc"] == 0


# -- helpers ------------------------------------------------------------------------------
def send(fake: FakeDiscord, payload: dict[str, Any], followups: int = 1) -> tuple[Call, list[Call]]:
    """Push an interaction; return its callback and its follow-ups once they arrive."""
    fake.dispatch("INTERACTION_CREATE", payload)
    tok = re.escape(payload["token"])
    callback = fake.wait_calls("POST", rf"/interactions/\d+/{tok}/callback")[0]
    later = fake.wait_calls("POST", rf"/webhooks/\d+/{tok}", followups) if followups else []
    return callback, later


def discord_error(status: int, message: str) -> Any:
    """A discord.HTTPException as discord.py raises it for an error response."""
    import discord

    class Response:  # what HTTPException reads from aiohttp's response
        def __init__(self) -> None:
            self.status, self.reason = status, "Forbidden"

    return discord.HTTPException(Response(), {"message": message, "code": 50013})  # type: ignore[arg-type]


def embed_text(body: dict[str, Any]) -> str:
    parts = []
    for e in body.get("embeds") or []:
        parts += [e.get("title") or "", e.get("description") or ""]
        parts += [f"{f['name']}\n{f['value']}" for f in e.get("fields") or []]
        parts.append((e.get("footer") or {}).get("text") or "")
    return "\n".join(parts)


def assert_deferred_then_followed(callback: Call, followup: Call, *, private: bool) -> None:
    assert callback.json["type"] == 5  # DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE: "thinking"
    assert callback.at <= followup.at
    assert bool((callback.json.get("data") or {}).get("flags", 0) & 64) is private
    assert bool(followup.json.get("flags", 0) & 64) is private
    assert followup.json["allowed_mentions"]["parse"] == []
    for embed in followup.json.get("embeds") or []:
        assert render.embed_problems(embed) == []


# -- start-up -----------------------------------------------------------------------------
def test_connects_with_default_intents_and_syncs_commands_to_the_guild(running: Running) -> None:
    fake = running.fake
    identify = next(f for f in fake.frames if f.get("op") == 2)
    intents = identify["d"]["intents"]
    for privileged in (1 << 1, 1 << 8, 1 << 15):  # members, presences, message content
        assert not intents & privileged
    assert intents & (1 << 9)  # guild messages: mentions arrive
    sync = fake.calls_matching("PUT", rf"/applications/\d+/guilds/{GUILD_ID}/commands")
    assert len(sync) == 1 and not fake.calls_matching("PUT", r"/applications/\d+/commands")
    names = {(c["name"], c["type"]) for c in sync[0].json}
    assert names == {("ask", 1), ("cite", 1), ("sources", 1), ("Find source", 3), ("add", 1),
                     ("feeds", 1)}
    # The admin commands are hidden from members without Manage Server (0x20).
    admin = {c["name"]: c for c in sync[0].json if c["name"] in ("add", "feeds")}
    assert {n: c.get("default_member_permissions") for n, c in admin.items()} == {"add": 32, "feeds": 32}
    assert all(c.auth == f"Bot {TOKEN}" for c in fake.calls if c.path.startswith("/users"))


# -- slash commands -----------------------------------------------------------------------
def test_ask_is_deferred_then_answered_with_quotes_and_links(running: Running) -> None:
    callback, (followup,) = send(running.fake, running.fake.slash("ask", question=ANSWERABLE))
    assert_deferred_then_followed(callback, followup, private=False)
    text = embed_text(followup.json)
    assert "\n> " in "\n" + followup.json["embeds"][0]["description"]
    assert "[1]" in text and "not amassing" in text
    assert f"]({BORDER})" in text


def test_ask_is_answered_as_of_the_interaction_with_its_date_options(running: Running) -> None:
    import calendar

    fake = running.fake
    q = "What did Russia's intelligence service and Ukraine's border service say about troops?"
    # Sent on 18 Nov 2021: the SVR article of the 22nd did not exist yet.
    at = calendar.timegm((2021, 11, 18, 12, 0, 0))
    _, (early,) = send(fake, fake.slash("ask", question=q, at=at))
    assert SVR not in embed_text(early.json) and BORDER in embed_text(early.json)
    _, (since,) = send(fake, fake.slash("ask", question=q, since="2021-11-20"))
    assert BORDER not in embed_text(since.json) and SVR in embed_text(since.json)
    assert "Articles since 20 Nov 2021" in since.json["embeds"][0]["footer"]["text"]
    _, (note,) = send(fake, fake.slash("ask", question=q, until="1999"))
    assert note.json.get("flags", 0) & 64 and "no indexed article was published" in note.json["content"]


def test_ask_private_is_ephemeral(running: Running) -> None:
    payload = running.fake.slash("ask", question=ANSWERABLE, private=True)
    callback, (followup,) = send(running.fake, payload)
    assert_deferred_then_followed(callback, followup, private=True)
    assert BORDER in embed_text(followup.json)


def test_ask_not_covered(running: Running) -> None:
    callback, (followup,) = send(running.fake, running.fake.slash("ask", question=UNANSWERABLE))
    assert_deferred_then_followed(callback, followup, private=False)
    assert render.NOT_COVERED in embed_text(followup.json)


def test_cite_marks_a_verbatim_sentence(running: Running) -> None:
    callback, (followup,) = send(running.fake, running.fake.slash("cite", text=VERBATIM))
    assert_deferred_then_followed(callback, followup, private=False)
    text = embed_text(followup.json)
    assert "**Verbatim**" in text and f"]({BORDER})" in text


def test_sources_lists_both_articles_with_page_buttons(running: Running) -> None:
    fake = running.fake
    payload = fake.slash("sources")
    callback, (followup,) = send(fake, payload)
    assert_deferred_then_followed(callback, followup, private=False)
    buttons = [c for row in followup.json["components"] for c in row["components"]]
    nxt = next(b for b in buttons if b["label"] == "Next")
    first = embed_text(followup.json)
    # Turn the page as the same user, on the message the follow-up created.
    click = fake.interaction(3, {"custom_id": nxt["custom_id"], "component_type": 2},
                             user_id=int(payload["member"]["user"]["id"]),
                             message=followup.response)
    page_two, _ = send(fake, click, followups=0)
    assert page_two.json["type"] == 7  # UPDATE_MESSAGE
    second = embed_text(page_two.json["data"])
    both = first + second
    assert f"]({BORDER})" in both and f"]({SVR})" in both
    assert "Ukraine Border Service Says No Sign of Russian Troops" in both
    assert "Russia Spy Agency Dismisses Claims of Ukraine Invasion Plan" in both
    assert page_two.json["data"]["allowed_mentions"]["parse"] == []


def test_find_source_message_command_is_private(running: Running) -> None:
    fake = running.fake
    target = fake.message(VERBATIM)
    callback, (followup,) = send(fake, fake.message_command(target))
    assert_deferred_then_followed(callback, followup, private=True)
    assert "**Verbatim**" in embed_text(followup.json)


def test_find_source_on_an_answer_embed_and_on_a_message_without_text(running: Running) -> None:
    fake = running.fake
    answer = fake.message("")
    answer["embeds"] = [{"type": "rich", "description": f"> {render.escape_md(VERBATIM)} [1]"}]
    _, (followup,) = send(fake, fake.message_command(answer))
    assert "**Verbatim**" in embed_text(followup.json)
    _, (followup,) = send(fake, fake.message_command(fake.message("")))
    assert followup.json["flags"] & 64
    assert followup.json["content"] == "Sorry, that message has no text to look up."


# -- mentions -----------------------------------------------------------------------------
def _replies_to(fake: FakeDiscord, message_id: str, timeout: float = 20) -> Call:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for c in fake.calls_matching("POST", r"/channels/\d+/messages"):
            if str((c.json.get("message_reference") or {}).get("message_id")) == message_id:
                return c
        time.sleep(0.02)
    raise AssertionError(f"no reply to message {message_id}")


def test_mention_is_answered_as_a_reply_that_pings_no_one(running: Running) -> None:
    fake = running.fake
    ignored = fake.message("@everyone what about the border?", mentions=[])
    fake.dispatch("MESSAGE_CREATE", ignored)
    msg = fake.message(f"<@{BOT_ID}> @everyone {ANSWERABLE}", mentions=[BOT_USER])
    fake.dispatch("MESSAGE_CREATE", msg)
    reply = _replies_to(fake, msg["id"])
    assert reply.path == f"/channels/{CHANNEL_ID}/messages"
    assert reply.json["allowed_mentions"]["parse"] == []
    assert reply.json["allowed_mentions"].get("replied_user") is not True
    assert reply.json["message_reference"]["fail_if_not_exists"] is False
    assert BORDER in embed_text(reply.json) and "[1]" in embed_text(reply.json)
    time.sleep(0.3)
    replied_to = {str((c.json.get("message_reference") or {}).get("message_id"))
                  for c in fake.calls_matching("POST", r"/channels/\d+/messages")}
    assert ignored["id"] not in replied_to  # @everyone alone is not a question for the bot


def test_empty_mention_gets_help(running: Running) -> None:
    msg = running.fake.message(f"<@!{BOT_ID}>", mentions=[BOT_USER])
    running.fake.dispatch("MESSAGE_CREATE", msg)
    reply = _replies_to(running.fake, msg["id"])
    assert "/ask" in reply.json["content"] and reply.json["allowed_mentions"]["parse"] == []


# -- limits and faults --------------------------------------------------------------------
def test_channel_outside_the_allow_list_gets_a_private_note(running: Running) -> None:
    payload = running.fake.slash("ask", question=ANSWERABLE, channel_id=CHANNEL_ID + 1)
    callback, _ = send(running.fake, payload, followups=0)
    assert callback.json["type"] == 4 and callback.json["data"]["flags"] & 64
    assert callback.json["data"]["content"] == render.channel_message()


def test_cooldown_per_user(running: Running) -> None:
    fake, uid = running.fake, running.fake.snowflake()
    for _ in range(2):  # the burst
        callback, _ = send(fake, fake.slash("ask", question=ANSWERABLE, user_id=uid))
        assert callback.json["type"] == 5
    callback, _ = send(fake, fake.slash("ask", question=ANSWERABLE, user_id=uid), followups=0)
    assert callback.json["type"] == 4 and callback.json["data"]["flags"] & 64
    assert callback.json["data"]["content"].startswith("You're asking quickly; try again in ")
    other, _ = send(fake, fake.slash("ask", question=ANSWERABLE))  # someone else is not held up
    assert other.json["type"] == 5


def test_error_answers_privately_and_logs_the_traceback(running: Running) -> None:
    fake = running.fake
    callback, (followup,) = send(fake, fake.slash("ask", question="BOOM what happened?"))
    assert callback.json["type"] == 5
    assert followup.json["flags"] & 64 and followup.json["content"] == render.error_message()
    tok = re.escape(callback.path.split("/")[3])
    assert fake.calls_matching("DELETE", rf"/webhooks/\d+/{tok}/messages/@original")
    assert "RuntimeError: kaboom inside the engine" in running.logs.text(logging.ERROR)


def test_bad_input_says_what_to_fix(running: Running) -> None:
    fake = running.fake
    _, (followup,) = send(fake, fake.slash("cite", text="x " * 700, private=True))
    assert followup.json["flags"] & 64
    assert "over the limit" in followup.json["content"]


def test_failed_send_is_logged_and_the_bot_keeps_running(running: Running) -> None:
    fake = running.fake
    fake.fail("POST", rf"/channels/{CHANNEL_ID}/messages", status=403)
    msg = fake.message(f"<@{BOT_ID}> {ANSWERABLE}", mentions=[BOT_USER])
    fake.dispatch("MESSAGE_CREATE", msg)
    _replies_to(fake, msg["id"])  # the attempt, refused with 403
    deadline = time.monotonic() + 10
    while f"request {msg['id']} mention" not in running.logs.text(logging.INFO):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert "403 Forbidden" in running.logs.text(logging.WARNING)
    _, (followup,) = send(fake, fake.slash("ask", question=ANSWERABLE))
    assert BORDER in embed_text(followup.json)


def test_ten_concurrent_asks_all_answered_without_blocking_heartbeats(running: Running) -> None:
    fake, engine = running.fake, running.engine
    payloads = [fake.slash("ask", question=ANSWERABLE if i % 2 else UNANSWERABLE) for i in range(10)]
    engine.delay = 0.6  # each answer takes 0.6 s: one after another would take 6 s
    try:
        started = time.monotonic()
        for p in payloads:
            fake.dispatch("INTERACTION_CREATE", p)
        done = []
        for p in payloads:
            tok = re.escape(p["token"])
            assert fake.wait_calls("POST", rf"/interactions/\d+/{tok}/callback")[0].json["type"] == 5
            done += fake.wait_calls("POST", rf"/webhooks/\d+/{tok}")
        elapsed = time.monotonic() - started
    finally:
        engine.delay = 0.0
    assert len(done) == 10
    assert sum(render.NOT_COVERED in embed_text(c.json) for c in done) == 5
    assert sum("not amassing" in embed_text(c.json) for c in done) == 5
    assert elapsed < 4.5, f"the ten questions did not run side by side ({elapsed:.1f}s)"
    beats = [t for t in fake.heartbeats if started <= t <= started + elapsed]
    gaps = [b - a for a, b in zip([started, *beats], [*beats, started + elapsed], strict=True)]
    assert max(gaps) < 2.0, f"heartbeats stalled for {max(gaps):.1f}s"
    assert "heartbeat blocked" not in running.logs.text()


# -- sharding -----------------------------------------------------------------------------
def test_two_shards_two_sessions_and_events_from_both_guilds(running: Running) -> None:
    fake, client = running.fake, running.client
    shards = sorted(tuple(d["shard"]) for d in fake.identifies)
    assert shards == [(0, 2), (1, 2)]  # Discord recommended 2 (GET /gateway/bot): one session each
    assert client.shard_count == 2 and {g.id for g in client.guilds} == {GUILD_ID, GUILD2_ID}
    assert shard_of(GUILD_ID, 2) != shard_of(GUILD2_ID, 2)
    # Discord allowed 2 IDENTIFYs at once (max_concurrency), so the second shard did not wait
    # the 5 s that discord.py's default pacing would.
    assert max(fake.identify_times) - min(fake.identify_times) < 2.5
    for channel, guild in ((CHANNEL_ID, GUILD_ID), (CHANNEL2_ID, GUILD2_ID)):
        before = len(fake.deliveries)
        _, (followup,) = send(fake, fake.slash("ask", question=ANSWERABLE, channel_id=channel))
        assert BORDER in embed_text(followup.json)
        assert (shard_of(guild, 2), "INTERACTION_CREATE") in fake.deliveries[before:]
    msg = fake.message(f"<@{BOT_ID}> {ANSWERABLE}", mentions=[BOT_USER], channel_id=CHANNEL2_ID)
    fake.dispatch("MESSAGE_CREATE", msg)
    reply = _replies_to(fake, msg["id"])
    assert reply.path == f"/channels/{CHANNEL2_ID}/messages" and BORDER in embed_text(reply.json)


# -- feedback -----------------------------------------------------------------------------
def _buttons(body: dict[str, Any]) -> dict[str, str]:
    """custom id -> label or emoji of every button in a message body."""
    out = {}
    for row in body.get("components") or []:
        for c in row["components"]:
            out[c["custom_id"]] = c.get("label") or (c.get("emoji") or {}).get("name", "")
    return out


def _vote_ids(body: dict[str, Any]) -> tuple[str, str]:
    ids = _buttons(body)
    up = next(k for k, v in ids.items() if v == "👍")
    down = next(k for k, v in ids.items() if v == "👎")
    return up, down


def _click(fake: FakeDiscord, message: dict[str, Any], custom_id: str, user_id: int) -> Call:
    (callback, _) = send(fake, fake.click(message, custom_id, user_id=user_id), followups=0)
    return callback


def test_every_answer_has_vote_buttons_and_one_changeable_vote_per_user(running: Running) -> None:
    fake = running.fake
    _, (answer,) = send(fake, fake.slash("ask", question=ANSWERABLE))
    _, (no_answer,) = send(fake, fake.slash("ask", question=UNANSWERABLE))
    msg = fake.message(f"<@{BOT_ID}> {ANSWERABLE}", mentions=[BOT_USER])
    fake.dispatch("MESSAGE_CREATE", msg)
    mention = _replies_to(fake, msg["id"])
    for body in (answer.json, no_answer.json, mention.json):
        up, down = _vote_ids(body)
        assert VOTE_ID.fullmatch(up) and VOTE_ID.fullmatch(down)
        assert up.rsplit(":", 1)[1] == down.rsplit(":", 1)[1]  # one recorded answer
    up, down = _vote_ids(answer.json)
    voter = fake.snowflake()
    first = _click(fake, answer.response, up, voter)
    assert first.json["type"] == 4 and first.json["data"]["flags"] & 64
    assert first.json["data"]["content"] == render.vote_ack("recorded", True)
    again = _click(fake, answer.response, up, voter).json["data"]["content"]
    assert again == render.vote_ack("unchanged", True)
    changed = _click(fake, answer.response, down, voter).json["data"]["content"]
    assert changed == render.vote_ack("changed", False)
    _click(fake, answer.response, up, fake.snowflake())  # someone else
    with FeedbackStore(running.engine.index_dir) as store:
        answer_id = up.rsplit(":", 1)[1]
        votes = [v for v in store.votes() if v.answer_id == answer_id]
        assert sorted(v.vote for v in votes) == [-1, 1]  # one vote each, the first one changed
        mine = next(v for v in votes if v.voter == store.voter(voter))
    assert mine.vote == -1 and mine.question == ANSWERABLE and str(voter) not in mine.voter
    ref = mine.quotes[0]
    assert ref.article_id == BORDER and ref.sentence_ids
    assert running.engine.article(BORDER).text[ref.start:ref.end] == ref.text
    assert re.search(rf"request \d+ vote down \d+ms answer={answer_id} changed", running.logs.text())


def test_a_vote_on_a_forgotten_answer_says_so(running: Running) -> None:
    fake = running.fake
    _, (answer,) = send(fake, fake.slash("ask", question=ANSWERABLE))
    up, _ = _vote_ids(answer.json)
    gone = up[: -16] + "0" * 16  # a well-formed id the database does not hold
    answer.response["components"][0]["components"][0]["custom_id"] = gone
    callback = _click(fake, answer.response, gone, fake.snowflake())
    assert callback.json["data"]["content"] == render.vote_gone()


# -- share --------------------------------------------------------------------------------
def test_private_answer_shares_to_the_channel_crediting_who_shared(running: Running) -> None:
    fake = running.fake
    uid = fake.snowflake()
    _, (private,) = send(fake, fake.slash("ask", question=ANSWERABLE, private=True, user_id=uid))
    assert private.json["flags"] & 64
    ids = _buttons(private.json)
    share = next(k for k, v in ids.items() if v == "Share to channel")
    up, _ = _vote_ids(private.json)
    assert share == "citebot:share:" + up.rsplit(":", 1)[1]
    shared = _click(fake, private.response, share, uid)
    assert shared.json["type"] == 4  # a new message in the channel
    data = shared.json["data"]
    assert not data.get("flags", 0) & 64  # public
    assert data["content"] == f"Shared by <@{uid}>" and data["allowed_mentions"]["parse"] == []
    assert data["embeds"][0]["description"] == private.json["embeds"][0]["description"]
    assert set(_buttons(data)) == {up, up.replace(":up:", ":down:")}  # votes, no second share
    again = _click(fake, private.response, share, uid)
    assert again.json["data"]["flags"] & 64 and again.json["data"]["content"] == render.already_shared()
    # Public answers offer no share: they are already in the channel.
    _, (public,) = send(fake, fake.slash("ask", question=ANSWERABLE))
    assert "Share to channel" not in _buttons(public.json).values()


def test_find_source_result_can_be_shared(running: Running) -> None:
    fake = running.fake
    _, (found,) = send(fake, fake.message_command(fake.message(VERBATIM)))
    assert found.json["flags"] & 64 and _buttons(found.json) == {"citebot:share": "Share to channel"}
    shared = _click(fake, found.response, "citebot:share", fake.snowflake())
    data = shared.json["data"]
    assert not data.get("flags", 0) & 64 and "**Verbatim**" in embed_text(data)
    assert not data.get("components")  # a citation lookup has no votes


# -- threads on request, and follow-ups in them -------------------------------------------
def test_ask_reply_in_thread_opens_a_thread_and_follow_ups_use_it(running: Running) -> None:
    fake = running.fake
    first = "Who is the spokesman of Ukraine's state border service?"
    _, (starter,) = send(fake, fake.slash("ask", question=first, reply_in="thread"))
    assert starter.json["content"].startswith("**Q:** Who is the spokesman")
    assert not starter.json.get("embeds")
    sid = starter.response["id"]
    (opened,) = fake.wait_calls("POST", rf"/channels/{CHANNEL_ID}/messages/{sid}/threads")
    assert opened.json["name"] == first
    (answer,) = fake.wait_calls("POST", rf"/channels/{sid}/messages")  # the thread has the id
    assert "Demchenko" in embed_text(answer.json) and _vote_ids(answer.json)
    # A question asked in that thread follows up on the first.
    _, (follow,) = send(fake, fake.slash("ask", question="What did he say?", channel_id=int(sid)))
    author = follow.json["embeds"][0]["author"]["name"]
    assert author == render.followup_note(first)
    assert "Demchenko" in embed_text(follow.json) and BORDER in embed_text(follow.json)
    # Unless asked for, answers stay in the channel.
    _, (plain,) = send(fake, fake.slash("ask", question=first))
    assert plain.json["embeds"] and "author" not in plain.json["embeds"][0]


def test_a_mention_replying_to_an_answer_follows_up_on_it(running: Running) -> None:
    fake = running.fake
    first = "What did Russia's SVR say the Americans are painting?"
    ask = fake.message(f"<@{BOT_ID}> {first}", mentions=[BOT_USER])
    fake.dispatch("MESSAGE_CREATE", ask)
    answer = _replies_to(fake, ask["id"])
    follow = fake.message(f"<@{BOT_ID}> What else did it say?", mentions=[BOT_USER],
                          reply_to=answer.response)
    fake.dispatch("MESSAGE_CREATE", follow)
    reply = _replies_to(fake, follow["id"])
    assert reply.json["embeds"][0]["author"]["name"] == render.followup_note(first)
    assert SVR in embed_text(reply.json)


# -- the fixes the independent run found --------------------------------------------------
def _wait_log(logs: Capture, pattern: str, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while not (m := re.search(pattern, logs.text())):
        assert time.monotonic() < deadline, f"no log line matching {pattern!r}"
        time.sleep(0.02)
    return m.group(0)


def test_a_too_long_mention_is_answered_and_logged_at_info(running: Running) -> None:
    fake = running.fake
    msg = fake.message(f"<@{BOT_ID}> " + "why " * 300, mentions=[BOT_USER])
    fake.dispatch("MESSAGE_CREATE", msg)
    reply = _replies_to(fake, msg["id"])
    assert "over the limit of 1000" in reply.json["content"]
    _wait_log(running.logs, rf"request {msg['id']} mention \d+ms answered=no \(error\)")
    mine = [t for _, t in running.logs.lines if msg["id"] in t]
    assert any(t.startswith("INFO") and "characters long" in t for t in mine)
    assert not any(t.startswith("ERROR") or "Traceback" in t for t in mine), mine


def test_a_reply_that_only_pings_the_bot_is_not_a_question(running: Running) -> None:
    fake = running.fake
    ask = fake.message(f"<@{BOT_ID}> {ANSWERABLE}", mentions=[BOT_USER])
    fake.dispatch("MESSAGE_CREATE", ask)
    answer = _replies_to(fake, ask["id"])
    thanks = fake.message("thanks!", reply_to=answer.response)  # "ping on": the bot is mentioned
    assert thanks["mentions"] == [BOT_USER] and f"<@{BOT_ID}>" not in thanks["content"]
    question = fake.message("what else did they say?", reply_to=answer.response)
    fake.dispatch("MESSAGE_CREATE", thanks)
    fake.dispatch("MESSAGE_CREATE", question)  # in channel mode a reply is no follow-up either
    probe = fake.message(f"<@{BOT_ID}>", mentions=[BOT_USER])  # handled after both
    fake.dispatch("MESSAGE_CREATE", probe)
    _replies_to(fake, probe["id"])
    time.sleep(0.3)
    replied = {str((c.json.get("message_reference") or {}).get("message_id"))
               for c in fake.calls_matching("POST", r"/channels/\d+/messages")}
    assert thanks["id"] not in replied and question["id"] not in replied


def test_a_stale_command_warns_once_and_tells_the_user_it_is_out_of_date(running: Running) -> None:
    fake = running.fake
    payload = fake.slash("summarize", question=ANSWERABLE)  # a command this version does not have
    callback, _ = send(fake, payload, followups=0)
    assert callback.json["type"] == 4 and callback.json["data"]["flags"] & 64
    assert callback.json["data"]["content"] == render.out_of_date_message()
    line = _wait_log(running.logs, rf"WARNING [\w.]+: request {payload['id']}: .*")
    assert "citebot discord --sync" in line and "'summarize'" in line
    mine = [(lvl, t) for lvl, t in running.logs.lines if payload["id"] in t]
    assert [lvl for lvl, t in mine if " citebot." in t] == [logging.WARNING]  # one line of ours
    assert not any(lvl >= logging.ERROR or "Traceback" in t for lvl, t in mine)


def test_a_refused_answer_replaces_thinking_with_an_error(running: Running) -> None:
    fake = running.fake
    payload = fake.slash("ask", question=ANSWERABLE)
    tok = re.escape(payload["token"])
    fake.fail("POST", rf"/webhooks/\d+/{tok}", status=403, code=50013, message="Missing Permissions")
    callback, _ = send(fake, payload, followups=1)  # the follow-up, refused
    assert callback.json["type"] == 5
    (edit,) = fake.wait_calls("PATCH", rf"/webhooks/\d+/{tok}/messages/@original")
    assert edit.json["content"] == render.send_failed_message(discord_error(403, "Missing Permissions"))
    assert "Missing Permissions" in edit.json["content"] and not edit.json.get("embeds")
    assert fake.original(payload["token"])["content"] == edit.json["content"]
    _wait_log(running.logs, rf"WARNING [\w.]+: request {payload['id']} ask: Discord refused a response")
    _wait_log(running.logs, rf"INFO [\w.]+: request {payload['id']} ask: replaced the thinking message")


def test_every_message_sent_pings_no_one(running: Running) -> None:
    sent = 0
    for call in running.fake.calls:
        body = call.json if isinstance(call.json, dict) else {}
        if call.path.endswith("/callback"):
            body = body.get("data") or {}
        if body.get("content") or body.get("embeds"):
            assert body["allowed_mentions"]["parse"] == [], (call.method, call.path)
            assert not body["allowed_mentions"].get("replied_user")
            sent += 1
    assert sent >= 30  # answers, notes, errors, pages and replies


def test_logs_have_one_line_per_request_and_never_the_token(running: Running) -> None:
    info = running.logs.text(logging.INFO)
    assert re.search(r"request \d+ ask \d+ms answered=yes", info)
    assert re.search(r"request \d+ ask \d+ms answered=no", info)
    assert re.search(r"request \d+ mention \d+ms answered=yes", info)
    assert ANSWERABLE not in info  # question text only at debug level
    assert ANSWERABLE in running.logs.text(logging.DEBUG)
    assert TOKEN not in running.logs.text(logging.DEBUG)


def test_interaction_tokens_never_reach_the_logs(running: Running) -> None:
    """discord.py logs request URLs and gateway payloads at DEBUG; interaction tokens in them
    are 15-minute webhook credentials."""
    debug = running.logs.text(logging.DEBUG)
    assert "/interactions/" in debug and "/webhooks/" in debug and "INTERACTION_CREATE" in debug
    assert "itok-" not in debug  # every interaction token of the run
    assert "[redacted]" in debug


# -- gateway discovery, bad tokens --------------------------------------------------------
@pytest.mark.parametrize("sync", [False, True])
def test_gateway_from_api_and_global_sync_only_when_asked(discord_engine: Any, sync: bool) -> None:
    saved = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    fake = FakeDiscord(TOKEN).start()
    try:
        thread, out = start_bot(settings_for(fake, discord_guild_id=None), discord_engine, sync=sync)
        deadline = time.monotonic() + 30
        while not (out.get("client") and out["client"].is_ready()):
            assert thread.is_alive() and time.monotonic() < deadline, out
            time.sleep(0.05)
        assert fake.calls_matching("GET", r"/gateway/bot")  # no gateway URL set: ask the API
        assert len(fake.calls_matching("PUT", r"/applications/\d+/commands")) == int(sync)
        assert not fake.calls_matching("PUT", r"/applications/\d+/guilds/.*")
        client = out["client"]
        asyncio.run_coroutine_threadsafe(client.close(), client.loop).result(10)
        thread.join(15)
        assert out["rc"] == 0
    finally:
        fake.stop()
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = saved


@pytest.mark.parametrize("where", ["rest", "gateway"])
def test_rejected_token_is_one_line_without_the_token(
    discord_engine: Any, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
    where: str,
) -> None:
    saved = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    caplog.set_level(logging.DEBUG)
    fake = FakeDiscord(TOKEN).start()
    fake.reject_token = where == "rest"  # 401 on GET /users/@me
    fake.reject_identify = where == "gateway"  # close code 4004 on IDENTIFY
    try:
        settings = settings_for(fake, discord_gateway_url=fake.gateway_url)
        rc = run_discord(settings, sync=False, engine=discord_engine)
    finally:
        fake.stop()
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = saved
    err = capsys.readouterr().err
    assert rc == 1
    assert REJECTED_TOKEN in err.splitlines()
    assert "Traceback" not in err and TOKEN not in err
    assert TOKEN not in caplog.text


def test_cli_process_with_a_rejected_token_prints_one_line(seed_index_dir: Path,
                                                           tmp_path: Path) -> None:
    """The real ``citebot discord`` process, logging set up as the CLI does it."""
    fake = FakeDiscord(TOKEN).start()
    fake.reject_token = True
    index = private_index(seed_index_dir, tmp_path / "index")
    env = {**os.environ, "DISCORD_TOKEN": TOKEN, "CITEBOT_DISCORD_API_BASE": fake.api_base,
           "CITEBOT_INDEX_DIR": str(index), "PYTHONPATH": str(ROOT)}
    try:
        proc = subprocess.run([sys.executable, "-m", "bot", "discord"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)
    finally:
        fake.stop()
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.splitlines().count(REJECTED_TOKEN) == 1
    assert "Traceback" not in proc.stderr and TOKEN not in proc.stderr + proc.stdout
    assert fake.calls_matching("GET", "/users/@me")  # it really asked the server


def test_missing_token_exits_2_with_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import main

    for name in ("DISCORD_TOKEN", "CITEBOT_DISCORD_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env here
    assert main(["discord"]) == 2
    assert capsys.readouterr().err.strip() == MISSING_TOKEN


# -- units --------------------------------------------------------------------------------
def test_redact_filter_scrubs_message_args_and_traceback() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(RedactFilter(TOKEN))
    lg = logging.getLogger("citebot.test-redact")
    lg.addHandler(handler)
    lg.propagate = False
    try:
        lg.warning("token is %s", TOKEN)
        lg.warning(f"inline {TOKEN}")
        try:
            raise RuntimeError(f"failed with {TOKEN}")
        except RuntimeError:
            lg.exception("boom")
    finally:
        lg.removeHandler(handler)
    text = out.getvalue()
    assert TOKEN not in text and text.count("[redacted]") == 3 and "Traceback" in text


def test_cooldown_bucket_refills() -> None:
    now = [0.0]
    cd = Cooldown(10, 2, clock=lambda: now[0])
    assert cd.hit(1) == 0 and cd.hit(1) == 0
    assert cd.hit(1) == pytest.approx(10)
    assert cd.hit(2) == 0  # per user
    now[0] = 5
    assert cd.hit(1) == pytest.approx(5)
    now[0] = 10
    assert cd.hit(1) == 0
    assert Cooldown(0, 1).hit(1) == 0  # zero seconds turns it off


def test_allowed_mentions_are_none() -> None:
    sent = render.ALLOWED_MENTIONS.to_dict()
    assert sent["parse"] == [] and not sent.get("users") and not sent.get("roles")
    assert not sent.get("replied_user")
