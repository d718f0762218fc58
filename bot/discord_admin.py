"""Admin slash commands: ``/add url:``, ``/feeds add|list|remove``, for Manage Server only.

Declared with ``default_permissions(manage_guild=True)`` so Discord hides them from other
members, and checked again here, since a server's admins can override who sees a command.
Replies are private (ephemeral). Urls from Discord pass the same SSRF guard as the CLI's: a
member cannot make the bot fetch its own network unless ``CITEBOT_ALLOW_PRIVATE_URLS`` is on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from retrieval.errors import CitebotError

if TYPE_CHECKING:
    from .discord_app import CitebotClient

log = logging.getLogger("citebot.discord")
ADMIN = discord.Permissions(manage_guild=True)
REFUSED = "Only members with the Manage Server permission can add articles or feeds."
NONE = discord.AllowedMentions.none()


def is_admin(interaction: discord.Interaction) -> bool:
    perms = interaction.permissions
    return bool(perms.manage_guild or perms.administrator)


async def _private(interaction: discord.Interaction, text: str) -> None:
    text = text if len(text) <= 1900 else text[:1899] + "…"
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NONE)
    else:
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NONE)


async def _guarded(interaction: discord.Interaction, what: str,
                   work: Callable[[], Awaitable[str]]) -> None:
    """Refuse non-admins; else run ``work`` and reply privately with its text."""
    if not is_admin(interaction):
        log.info("request %s %s: refused, no Manage Server permission", interaction.id, what)
        await _private(interaction, REFUSED)
        return
    await interaction.response.defer(thinking=True, ephemeral=True)
    try:
        text = await work()
    except CitebotError as exc:
        log.info("request %s %s: %s", interaction.id, what, exc)
        text = f"Could not do that: {exc}"
    log.info("request %s %s: %s", interaction.id, what, text.splitlines()[0] if text else "")
    await _private(interaction, text)


def add_admin_commands(client: CitebotClient) -> None:
    from retrieval.feedstore import FeedStore
    from retrieval.fetch import FetchConfig
    from retrieval.ingest import add_urls
    from retrieval.urlguard import check_url

    engine, opts = client.engine, client.options
    config = FetchConfig(allow_private=opts.allow_private_urls)

    async def do_add(url: str) -> str:
        check_url(url, config.allow_private)
        store = FeedStore(engine.index_dir)
        try:
            (outcome,) = await add_urls(engine, store, [url], config, opts.dedup_threshold)
        finally:
            store.close()
        return outcome.line()

    async def feeds_call(fn: str, *args: str | None) -> str:
        def run() -> str:
            store = FeedStore(engine.index_dir)
            try:
                if fn == "add":
                    feed = store.add_feed(check_url(args[0] or "", config.allow_private), args[1])
                    return f"Following {feed.name} ({feed.url}); the watcher polls it."
                if fn == "remove":
                    feed = store.remove_feed(args[0] or "")
                    return f"Stopped following {feed.name}; its articles stay indexed."
                feeds = store.feeds()
                if not feeds:
                    return "No feeds yet; add one with /feeds add."
                lines = []
                for f in feeds:
                    line = f"• {f.name} - {f.status()}, {f.entries} entries"
                    if f.last_error:
                        line += f"\n  last error: {f.last_error}"
                    lines.append(line)
                return "\n".join(lines)
            finally:
                store.close()

        return await asyncio.to_thread(run)

    @app_commands.command(name="add", description="Fetch a web page and index its article (admins)")
    @app_commands.describe(url="the article's web address")
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    async def add(interaction: discord.Interaction, url: app_commands.Range[str, 1, 2000]) -> None:
        await _guarded(interaction, "add", lambda: do_add(url))

    feeds = app_commands.Group(name="feeds", description="Feeds the bot follows (admins)",
                               default_permissions=ADMIN, guild_only=True)

    @feeds.command(name="add", description="Follow an RSS, Atom, JSON Feed or news sitemap")
    @app_commands.describe(url="the feed's address", name="a short name for the list")
    async def feeds_add(interaction: discord.Interaction, url: app_commands.Range[str, 1, 2000],
                        name: app_commands.Range[str, 1, 100] | None = None) -> None:
        await _guarded(interaction, "feeds add", lambda: feeds_call("add", url, name))

    @feeds.command(name="list", description="The feeds followed, with their state")
    async def feeds_list(interaction: discord.Interaction) -> None:
        await _guarded(interaction, "feeds list", lambda: feeds_call("list"))

    @feeds.command(name="remove", description="Stop following a feed")
    @app_commands.describe(feed="the feed's name or address")
    async def feeds_remove(interaction: discord.Interaction,
                           feed: app_commands.Range[str, 1, 2000]) -> None:
        await _guarded(interaction, "feeds remove", lambda: feeds_call("remove", feed))

    client.tree.add_command(add)
    client.tree.add_command(feeds)
