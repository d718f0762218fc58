"""/add and /feeds end to end: the real bot over real sockets to the fake Discord server, and a
real HTTP server on 127.0.0.1 serving a real article."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import shared_file
from discord.gateway import DiscordWebSocket
from discord.http import Route
from fake_discord import FakeDiscord
from feedsite import Site, article_html, serve
from test_discord_e2e import TOKEN, private_index, send, settings_for, start_bot

MANAGE_GUILD = 0x20


@pytest.fixture(scope="module")
def setup(seed_index_dir: Path, embedder: Any,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeDiscord, Site, Any, dict[str, Any]]]:
    from retrieval import Citebot

    with shared_file("corpora/news-archive.jsonl").open(encoding="utf-8") as f:
        art = next(r for r in map(json.loads, f) if r.get("published") and len(r["text"]) > 1500)
    site = Site()
    server, _ = serve(site)
    url = site.put("/story", "")
    site.put("/story", article_html(art, url))
    engine = Citebot(private_index(seed_index_dir, tmp_path_factory.mktemp("admin") / "index"),
                     embedder=embedder)
    saved = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    fake = FakeDiscord(TOKEN, heartbeat_ms=400).start()
    thread, out = start_bot(settings_for(fake, discord_gateway_url=fake.gateway_url,
                                         allow_private_urls=True), engine)
    deadline = time.monotonic() + 30
    while not (out.get("client") and out["client"].is_ready()):
        assert thread.is_alive() and time.monotonic() < deadline, f"the bot did not start: {out}"
        time.sleep(0.05)
    try:
        yield fake, site, engine, art
    finally:
        client = out["client"]
        asyncio.run_coroutine_threadsafe(client.close(), client.loop).result(10)
        thread.join(15)
        fake.stop()
        server.shutdown()
        engine.close()
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = saved


def command(fake: FakeDiscord, cmd: str, sub: str | None = None, /, *, admin: bool,
            **options: str) -> dict[str, Any]:
    opts: list[dict[str, Any]] = [{"name": k, "type": 3, "value": v} for k, v in options.items()]
    if sub is not None:
        opts = [{"name": sub, "type": 1, "options": opts}]
    payload = fake.interaction(2, {"id": str(fake.snowflake()), "name": cmd, "type": 1, "options": opts})
    perms = int(payload["member"]["permissions"])
    payload["member"]["permissions"] = str(perms | MANAGE_GUILD if admin else perms & ~MANAGE_GUILD)
    return payload


def private_reply(fake: FakeDiscord, payload: dict[str, Any]) -> str:
    callback, (followup,) = send(fake, payload)
    assert callback.json["type"] == 5 and callback.json["data"]["flags"] & 64  # private thinking
    assert followup.json["flags"] & 64
    return str(followup.json["content"])


def test_admin_adds_an_article_then_it_is_already_indexed(setup: Any) -> None:
    fake, site, engine, art = setup
    url = site.base + "/story"
    text = private_reply(fake, command(fake, "add", admin=True, url=url))
    assert re.fullmatch(rf"indexed: {re.escape(art['title'])} \({art['published']}\), \d+ passages", text)
    assert url in {a.id for a in engine.sources()}
    assert private_reply(fake, command(fake, "add", admin=True, url=url)).startswith("already indexed")
    gone = private_reply(fake, command(fake, "add", admin=True, url=site.base + "/gone"))
    assert "HTTP 404" in gone


def test_admin_manages_feeds(setup: Any) -> None:
    fake, site, _, _ = setup
    feed = site.base + "/rss"
    assert "Following local" in private_reply(fake, command(fake, "feeds", "add", admin=True,
                                                             url=feed, name="local"))
    assert "local - new, 0 entries" in private_reply(fake, command(fake, "feeds", "list", admin=True))
    assert "Stopped following local" in private_reply(fake, command(fake, "feeds", "remove", admin=True,
                                                                     feed="local"))
    assert "No feeds yet" in private_reply(fake, command(fake, "feeds", "list", admin=True))


def test_non_admin_is_refused_privately(setup: Any) -> None:
    fake, site, _, _ = setup
    for payload in (command(fake, "add", admin=False, url=site.base + "/story"),
                    command(fake, "feeds", "add", admin=False, url=site.base + "/rss")):
        callback, _ = send(fake, payload, followups=0)
        assert callback.json["type"] == 4 and callback.json["data"]["flags"] & 64
        assert "Manage Server" in callback.json["data"]["content"]
    assert site.hits.get("/rss") is None
