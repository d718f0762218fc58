"""The bot in thread mode (``CITEBOT_DISCORD_REPLY_IN=thread``) end to end, and a restart:
a new client, started the way ``citebot discord`` starts it against the same server and index,
handles buttons on messages the first one sent and follow-ups in the threads it opened."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from discord.gateway import DiscordWebSocket
from discord.http import Route
from fake_discord import BOT_ID, BOT_USER, CHANNEL_ID, Call, FakeDiscord
from seed_questions import BORDER, SVR
from test_discord_e2e import (
    TOKEN,
    Capture,
    embed_text,
    private_index,
    send,
    settings_for,
    start_bot,
)

from bot import render_discord as render
from bot.discord_app import CitebotClient
from retrieval.feedback import FeedbackStore

SVR_QUESTION = "What did Russia's SVR say the Americans are painting?"
SPOKESMAN = "Who is the spokesman of Ukraine's state border service?"


@dataclass
class Bot:
    fake: FakeDiscord
    logs: Capture
    engine: Any
    client: CitebotClient | None = None
    thread: threading.Thread | None = None
    out: dict[str, Any] | None = None

    def start(self) -> CitebotClient:
        settings = settings_for(self.fake, discord_gateway_url=self.fake.gateway_url,
                                discord_reply_in="thread", discord_channels=[],
                                discord_cooldown_seconds=0)
        self.thread, self.out = start_bot(settings, self.engine, sync=False)
        deadline = time.monotonic() + 30
        while not (self.out.get("client") and self.out["client"].is_ready()):
            assert self.thread.is_alive(), f"the bot stopped: {self.out}"
            assert time.monotonic() < deadline, "the bot did not get ready"
            time.sleep(0.05)
        self.client = self.out["client"]
        return self.client

    def stop(self) -> None:
        if self.client is not None and self.thread is not None and self.out is not None:
            asyncio.run_coroutine_threadsafe(self.client.close(), self.client.loop).result(10)
            self.thread.join(15)
            assert self.out["rc"] == 0
        self.client = None


@pytest.fixture(scope="module")
def thread_engine(seed_index_dir: Path, embedder: Any,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from retrieval import Citebot

    engine = Citebot(private_index(seed_index_dir, tmp_path_factory.mktemp("threads") / "index"),
                     embedder=embedder)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def bot(thread_engine: Any) -> Iterator[Bot]:
    saved = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    root = logging.getLogger()
    capture, old_level = Capture(), root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    fake = FakeDiscord(TOKEN, heartbeat_ms=400).start()
    running = Bot(fake, capture, thread_engine)
    running.start()
    try:
        yield running
    finally:
        running.stop()
        fake.stop()
        root.removeHandler(capture)
        root.setLevel(old_level)
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = saved


def _posts(fake: FakeDiscord, channel: int | str, timeout: float = 20, count: int = 1) -> list[Call]:
    return fake.wait_calls("POST", rf"/channels/{channel}/messages", count, timeout)


def _reply_to(fake: FakeDiscord, message_id: str, timeout: float = 20) -> Call:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for c in fake.calls_matching("POST", r"/channels/\d+/messages"):
            if str((c.json.get("message_reference") or {}).get("message_id")) == message_id:
                return c
        time.sleep(0.02)
    raise AssertionError(f"no reply to message {message_id}")


def _mention(fake: FakeDiscord, text: str, **kw: Any) -> dict[str, Any]:
    msg = fake.message(f"<@{BOT_ID}> {text}", mentions=[BOT_USER], **kw)
    fake.dispatch("MESSAGE_CREATE", msg)
    return msg


def _buttons(body: dict[str, Any]) -> list[str]:
    return [c["custom_id"] for row in body.get("components") or [] for c in row["components"]]


def _open_thread_for(bot: Bot, question: str) -> tuple[dict[str, Any], Call]:
    """Mention the bot in the channel; returns the asking message and the answer in its thread."""
    msg = _mention(bot.fake, question)
    (opened,) = bot.fake.wait_calls("POST", rf"/channels/{CHANNEL_ID}/messages/{msg['id']}/threads")
    assert opened.json["name"] == render.thread_name(question)
    (answer,) = _posts(bot.fake, msg["id"])  # a thread started from a message has its id
    return msg, answer


# -- thread mode --------------------------------------------------------------------------
def test_a_mention_in_a_channel_is_answered_in_a_new_thread(bot: Bot) -> None:
    fake = bot.fake
    msg, answer = _open_thread_for(bot, SVR_QUESTION)
    assert SVR in embed_text(answer.json) and answer.json["allowed_mentions"]["parse"] == []
    assert len(_buttons(answer.json)) == 2  # 👍 / 👎
    assert int(msg["id"]) in fake.threads and fake.threads[int(msg["id"])]["parent_id"] == str(CHANNEL_ID)
    assert not [c for c in fake.calls_matching("POST", rf"/channels/{CHANNEL_ID}/messages")
                if (c.json.get("message_reference") or {}).get("message_id") == msg["id"]]
    assert bot.client is not None and bot.client.get_channel(int(msg["id"])) is not None  # THREAD_CREATE


def test_a_mention_in_the_thread_follows_up_and_says_on_what(bot: Bot) -> None:
    fake = bot.fake
    msg, _ = _open_thread_for(bot, SVR_QUESTION)
    follow = _mention(fake, "What else did it say?", channel_id=int(msg["id"]))
    reply = _reply_to(fake, follow["id"])
    assert reply.path == f"/channels/{msg['id']}/messages"  # in the thread, not a new one
    embed = reply.json["embeds"][0]
    assert embed["author"]["name"] == render.followup_note(SVR_QUESTION)
    assert SVR in embed_text(reply.json) and "SVR" in embed["description"]
    # The thread remembers both questions: a third turn builds on the one that named the subject.
    third = _mention(fake, "Who does it say is scaring the global community?", channel_id=int(msg["id"]))
    reply3 = _reply_to(fake, third["id"])
    assert reply3.json["embeds"][0]["author"]["name"] == render.followup_note(SVR_QUESTION)
    assert "bureaucrats" in embed_text(reply3.json)


def test_in_a_thread_a_reply_that_asks_is_a_follow_up_and_thanks_is_not(bot: Bot) -> None:
    fake = bot.fake
    msg, answer = _open_thread_for(bot, SPOKESMAN)
    thanks = fake.message("thanks!", reply_to=answer.response, channel_id=int(msg["id"]))
    asks = fake.message("and what did he say", reply_to=answer.response,
                        channel_id=int(msg["id"]))
    assert BOT_USER in asks["mentions"] and f"<@{BOT_ID}>" not in asks["content"]
    fake.dispatch("MESSAGE_CREATE", thanks)
    fake.dispatch("MESSAGE_CREATE", asks)
    reply = _reply_to(fake, asks["id"])
    assert reply.json["embeds"][0]["author"]["name"] == render.followup_note(SPOKESMAN)
    assert reply.json["embeds"][0]["description"].startswith("> ")  # answered, not abstained
    assert BORDER in embed_text(reply.json) and "Demchenko" in embed_text(reply.json)
    time.sleep(0.3)
    replied = {str((c.json.get("message_reference") or {}).get("message_id"))
               for c in fake.calls_matching("POST", r"/channels/\d+/messages")}
    assert thanks["id"] not in replied


def test_ask_opens_a_thread_from_its_response_and_private_stays_private(bot: Bot) -> None:
    fake = bot.fake
    _, (starter,) = send(fake, fake.slash("ask", question=SPOKESMAN))
    sid = starter.response["id"]
    assert starter.json["content"].startswith("**Q:**")
    fake.wait_calls("POST", rf"/channels/{CHANNEL_ID}/messages/{sid}/threads")
    (answer,) = _posts(fake, sid)
    assert "Demchenko" in embed_text(answer.json)
    _, (private,) = send(fake, fake.slash("ask", question=SPOKESMAN, private=True))
    assert private.json["flags"] & 64 and "Demchenko" in embed_text(private.json)
    private_id = private.response["id"]
    assert not fake.calls_matching("POST", rf"/channels/{CHANNEL_ID}/messages/{private_id}/threads")
    # reply_in:channel overrides the setting for one question.
    _, (here,) = send(fake, fake.slash("ask", question=SPOKESMAN, reply_in="channel"))
    assert here.json["embeds"] and "Demchenko" in embed_text(here.json)


def test_a_reply_asking_about_an_answer_in_the_channel_opens_a_follow_up_thread(bot: Bot) -> None:
    fake = bot.fake
    _, (here,) = send(fake, fake.slash("ask", question=SVR_QUESTION, reply_in="channel"))
    asks = fake.message("what else did it say?", reply_to=here.response)  # a ping, no <@id>
    fake.dispatch("MESSAGE_CREATE", asks)
    (opened,) = fake.wait_calls("POST", rf"/channels/{CHANNEL_ID}/messages/{asks['id']}/threads")
    assert opened.json["name"] == "what else did it say?"
    (answer,) = _posts(fake, asks["id"])
    assert answer.json["embeds"][0]["author"]["name"] == render.followup_note(SVR_QUESTION)
    # The thread starts with both questions, so the next one there still knows the subject.
    third = _mention(fake, "Who does it say is scaring the global community?", channel_id=int(asks["id"]))
    assert "bureaucrats" in embed_text(_reply_to(fake, third["id"]).json)


def test_without_permission_to_open_threads_it_answers_in_the_channel(bot: Bot) -> None:
    fake = bot.fake
    fake.fail("POST", rf"/channels/{CHANNEL_ID}/messages/\d+/threads", status=403, code=50013,
              message="Missing Permissions")
    msg = _mention(fake, SPOKESMAN)
    reply = _reply_to(fake, msg["id"])
    assert reply.path == f"/channels/{CHANNEL_ID}/messages" and "Demchenko" in embed_text(reply.json)
    assert re.search(rf"request {msg['id']}: could not open a thread in channel {CHANNEL_ID}.*"
                     r"Create Public Threads", bot.logs.text(logging.WARNING))


# -- after a restart ----------------------------------------------------------------------
def test_a_new_client_handles_buttons_and_threads_of_the_old_one(bot: Bot) -> None:
    fake = bot.fake
    msg, answer = _open_thread_for(bot, SPOKESMAN)
    up, down = _buttons(answer.json)
    _, (private,) = send(fake, fake.slash("ask", question=SVR_QUESTION, private=True))
    share = next(c for c in _buttons(private.json) if c.startswith("citebot:share"))
    old = bot.client
    bot.stop()
    assert old is not None and old.is_closed()
    new = bot.start()
    assert new is not old

    voter = fake.snowflake()
    callback, _ = send(fake, fake.click(answer.response, down, user_id=voter), followups=0)
    assert callback.json["data"]["content"] == render.vote_ack("recorded", False)
    with FeedbackStore(bot.engine.index_dir) as store:
        (vote,) = [v for v in store.votes() if v.voter == store.voter(voter)]
    assert vote.question == SPOKESMAN and vote.vote == -1 and vote.answer_id in up

    shared, _ = send(fake, fake.click(private.response, share, user_id=voter), followups=0)
    assert shared.json["type"] == 4 and not shared.json["data"].get("flags", 0) & 64
    assert SVR in embed_text(shared.json["data"])

    follow = _mention(fake, "What did he say?", channel_id=int(msg["id"]))
    reply = _reply_to(fake, follow["id"])
    assert reply.json["embeds"][0]["author"]["name"] == render.followup_note(SPOKESMAN)
    assert "Demchenko" in embed_text(reply.json)
