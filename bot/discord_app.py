"""``citebot discord``: the Discord front end (``/ask``, ``/cite``, ``/sources``, the
**Find source** message command and ``@citebot`` mentions), answered with cited embeds.

The engine is opened before connecting and every retrieval call runs in a worker thread,
so the gateway heartbeat and other questions never wait on the model. Only non-privileged
intents are used: mentions and message-command targets carry their text without the
message-content intent.

Community features. In thread mode (``CITEBOT_DISCORD_REPLY_IN=thread``, or ``/ask
reply_in:thread``) a question in a text channel opens a public thread named after it and is
answered there; a question asked in a thread citebot opened is a follow-up, answered with the
thread's earlier questions as context (retrieval/followup.py), and its embed says which one it
built on. Every answer carries 👍 / 👎 buttons and a private one also "Share to channel"; the
buttons' custom ids carry the recorded answer's id (retrieval/feedback.py), so a restarted bot
still handles presses on old messages. Threads, answers and votes live in the index's state
database. The client is an ``AutoShardedClient``: as many gateway sessions as
``CITEBOT_DISCORD_SHARDS`` says, or as Discord recommends, in one process.

Other servers: discord.py builds every REST URL, interaction webhooks included, from the
class attribute ``discord.http.Route.BASE``, and connects every shard to the class attribute
``DiscordWebSocket.DEFAULT_GATEWAY`` when the shard count is known. The client sets the first
from ``discord_api_base`` in ``login`` and the second in ``connect``, from
``discord_gateway_url`` or else from ``GET /gateway/bot`` on that base (which also gives the
recommended shard count and how many shards may identify at once). Both are process wide, so
one process runs one bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from retrieval.answer import MAX_QUESTION_CHARS
from retrieval.errors import CitebotError, InputError, NotFoundError
from retrieval.feedback import DOWN, UP, FeedbackStore
from retrieval.followup import is_question

from . import render_discord as render
from .cli import ensure_index, make_engine
from .discord_support import (
    THREAD_CONTEXT,
    BotOptions,
    Cooldown,
    IdentifyLimiter,
    RedactFilter,
    SeenSet,
    ThreadInfo,
    ThreadMemory,
    install_redaction,
)

if TYPE_CHECKING:
    from retrieval import Citebot

    from .settings import Settings

log = logging.getLogger("citebot.discord")

DISCORD_GATEWAY = "wss://gateway.discord.gg/"
MISSING_TOKEN = (
    "citebot: error: DISCORD_TOKEN is not set; set it to your bot token in the environment or .env"
)
REJECTED_TOKEN = (
    "citebot: error: Discord rejected the token in DISCORD_TOKEN; "
    "set a valid bot token in the environment or .env"
)
NONE = render.ALLOWED_MENTIONS
FEEDBACK_KEEP_DAYS = 90  # answers nobody voted on are forgotten after this


# -- the client ---------------------------------------------------------------------------
class Pager(discord.ui.View):
    """Previous/Next buttons over embed pages (``/sources``), for the person who asked."""

    def __init__(self, pages: list[discord.Embed], owner_id: int, timeout: float = 600) -> None:
        super().__init__(timeout=timeout)  # under the 15 minutes an interaction token lasts
        self.pages, self.owner_id, self.page = pages, owner_id, 0
        self.message: discord.WebhookMessage | None = None
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.previous.disabled = self.page == 0
        self.next.disabled = self.page >= len(self.pages) - 1

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id == self.owner_id:
            return True
        await interaction.response.send_message(
            "These pages belong to whoever asked; use /sources for your own.",
            ephemeral=True, allowed_mentions=NONE)
        return False

    async def _show(self, interaction: discord.Interaction, step: int) -> None:
        self.page = max(0, min(len(self.pages) - 1, self.page + step))
        self._update_buttons()
        await interaction.response.edit_message(embed=self.pages[self.page], view=self,
                                                allowed_mentions=NONE)

    @discord.ui.button(label="Previous", style=discord.ButtonStyle.secondary)
    async def previous(self, interaction: discord.Interaction, _: discord.ui.Button[Any]) -> None:
        await self._show(interaction, -1)

    @discord.ui.button(label="Next", style=discord.ButtonStyle.primary)
    async def next(self, interaction: discord.Interaction, _: discord.ui.Button[Any]) -> None:
        await self._show(interaction, 1)

    async def on_timeout(self) -> None:
        if self.message is not None:
            # The message may be gone or its token expired; then there is nothing to tidy.
            with contextlib.suppress(discord.HTTPException):
                await self.message.edit(view=None)


# -- what a request produces --------------------------------------------------------------
@dataclass(frozen=True)
class Reply:
    """What a worker thread hands back: the pages to send, whether it answered, and what the
    buttons under it need."""

    embeds: list[discord.Embed]
    answered: bool
    answer_id: str | None = None  # the recorded answer 👍 / 👎 refer to
    question: str = ""  # names the thread an answer opens
    shareable: bool = False  # offer "Share to channel" when it was sent privately


# -- buttons that work after a restart ----------------------------------------------------
# Their custom ids carry everything the press needs (the recorded answer's id), and discord.py
# matches them by template, so a new process handles presses on messages an old one sent.
VOTE_ID = re.compile(r"citebot:vote:(?P<vote>up|down):(?P<answer>[0-9a-f]{16})")
SHARE_ID = re.compile(r"citebot:share(?::(?P<answer>[0-9a-f]{16}))?")


class VoteButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=VOTE_ID):
    def __init__(self, answer_id: str, up: bool) -> None:
        self.answer_id, self.up = answer_id, up
        super().__init__(discord.ui.Button(
            style=discord.ButtonStyle.secondary, emoji="👍" if up else "👎",
            custom_id=f"citebot:vote:{'up' if up else 'down'}:{answer_id}"))

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> VoteButton:
        return cls(match["answer"], match["vote"] == "up")

    async def callback(self, interaction: discord.Interaction) -> None:
        client = interaction.client
        if isinstance(client, CitebotClient):
            await client.on_vote(interaction, self.answer_id, self.up)


class ShareButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=SHARE_ID):
    def __init__(self, answer_id: str | None) -> None:
        self.answer_id = answer_id
        super().__init__(discord.ui.Button(
            style=discord.ButtonStyle.primary, label="Share to channel",
            custom_id="citebot:share" + (f":{answer_id}" if answer_id else "")))

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> ShareButton:
        return cls(match["answer"])

    async def callback(self, interaction: discord.Interaction) -> None:
        client = interaction.client
        if isinstance(client, CitebotClient):
            await client.on_share(interaction, self.answer_id)


def buttons(*, answer_id: str | None, votes: bool, share: bool) -> discord.ui.View | None:
    """The row under an answer: 👍 / 👎 when it was recorded, and Share when it is private.
    Every item is a DynamicItem, so discord.py keeps no per-message state for it."""
    items: list[discord.ui.Item[Any]] = []
    if votes and answer_id:
        items += [VoteButton(answer_id, True), VoteButton(answer_id, False)]
    if share:
        items.append(ShareButton(answer_id))
    if not items:
        return None
    view = discord.ui.View(timeout=None)
    for item in items:
        view.add_item(item)
    return view


def _with_view(view: discord.ui.View | None) -> dict[str, Any]:
    return {"view": view} if view is not None else {}


def answer_id_of(message: discord.Message) -> str | None:
    """The recorded answer a message of citebot's shows, from its buttons' custom ids."""
    for row in message.components:
        for item in getattr(row, "children", ()):
            m = VOTE_ID.fullmatch(getattr(item, "custom_id", None) or "")
            if m:
                return m["answer"]
    return None


class CitebotClient(discord.AutoShardedClient):
    """The bot: app commands on ``self.tree``, mentions in ``on_message``, button presses in
    ``on_vote`` / ``on_share``, and the engine and options passed in rather than read from
    globals. Sharded as ``options.shards`` says (None: as Discord recommends), in one process."""

    def __init__(self, engine: Citebot, options: BotOptions) -> None:
        # citebot never joins voice, so discord.py's warnings about voice libraries are noise.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        intents = discord.Intents.default()  # no message_content: mentions carry their text
        super().__init__(intents=intents, allowed_mentions=NONE, shard_count=options.shards)
        self.engine, self.options = engine, options
        self.tree: app_commands.CommandTree[CitebotClient] = app_commands.CommandTree(self)
        self.tree.on_error = self._on_tree_error  # type: ignore[method-assign]
        self.cooldown = Cooldown(options.cooldown_seconds, options.cooldown_burst)
        self.identify = IdentifyLimiter()
        # The index's state database: the threads citebot opened, and the answers and votes.
        self.threads = ThreadMemory(engine.index_dir)
        self.feedback = FeedbackStore(engine.index_dir)
        self._shared = SeenSet()

    async def close(self) -> None:
        await super().close()
        self.threads.close()
        self.feedback.close()

    # -- connection: where Discord is, and how many shards -----------------------------------
    async def login(self, token: str) -> None:
        Route.BASE = self.options.api_base
        await super().login(token)

    async def connect(self, *, reconnect: bool = True) -> None:
        gateway, recommended, concurrency = await self._gateway()
        DiscordWebSocket.DEFAULT_GATEWAY = gateway
        if self.shard_count is None:
            self.shard_count = recommended
        self.identify = IdentifyLimiter(concurrency)
        log.info("connecting %d shard%s to %s", self.shard_count, "" if self.shard_count == 1 else "s",
                 gateway)
        await super().connect(reconnect=reconnect)

    async def _gateway(self) -> tuple[yarl.URL, int, int]:
        """The gateway URL, Discord's recommended shard count and how many shards may
        IDENTIFY at once; the API is asked unless the settings fix both URL and count."""
        if self.options.gateway_url and self.shard_count is not None:
            return yarl.URL(self.options.gateway_url), self.shard_count, 1
        try:
            shards, url, limits = await self.http.get_bot_gateway()
        except discord.GatewayNotFound:
            fallback = self.options.gateway_url or DISCORD_GATEWAY
            log.warning("GET /gateway/bot failed; using %s and %d shard(s)", fallback,
                        self.shard_count or 1)
            return yarl.URL(fallback), self.shard_count or 1, 1
        concurrency = int(limits.get("max_concurrency", 1))
        return yarl.URL(self.options.gateway_url or url), max(1, shards), concurrency

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        await self.identify.wait(shard_id)

    async def setup_hook(self) -> None:
        self.add_dynamic_items(VoteButton, ShareButton)
        self._add_commands()
        from .discord_admin import add_admin_commands

        add_admin_commands(self)
        pruned = await asyncio.to_thread(self.feedback.prune, FEEDBACK_KEEP_DAYS)
        if pruned:
            log.info("forgot %d answers older than %d days that nobody voted on", pruned,
                     FEEDBACK_KEEP_DAYS)
        if not self.options.sync:
            return
        try:
            if self.options.guild_id:
                guild = discord.Object(id=self.options.guild_id)
                self.tree.copy_global_to(guild=guild)
                synced = await self.tree.sync(guild=guild)
                log.info("synced %d commands to guild %s", len(synced), self.options.guild_id)
            else:
                synced = await self.tree.sync()
                log.info("synced %d commands globally (Discord may take a while to show them)",
                         len(synced))
        except discord.HTTPException as exc:
            log.error("command sync failed (%s); does the bot have the applications.commands "
                      "scope?", exc)

    async def on_ready(self) -> None:
        log.info("connected as %s (id %s) in %d servers over %d shard(s)", self.user,
                 getattr(self.user, "id", "?"), len(self.guilds), self.shard_count or 1)

    def _add_commands(self) -> None:
        tree, engine = self.tree, self.engine

        @tree.command(name="ask", description="Answer a question with quotes from the articles")
        @app_commands.describe(question="what you want to know", private="only you see the answer",
                               reply_in="answer here, or in a new thread named after the question",
                               since="only articles from this date on (2021-11-16, 2021-11, 2021, 7d)",
                               until="only articles up to this date", source="only this source or site")
        async def ask(interaction: discord.Interaction,
                      question: app_commands.Range[str, 1, MAX_QUESTION_CHARS],
                      private: bool = False,
                      reply_in: Literal["channel", "thread"] | None = None,
                      since: app_commands.Range[str, 1, 40] | None = None,
                      until: app_commands.Range[str, 1, 40] | None = None,
                      source: app_commands.Range[str, 1, 100] | None = None) -> None:
            when = TimeOptions(interaction.created_at, since, until, source)
            await self._ask(interaction, question, private, reply_in or self.options.reply_in, when)

        @tree.command(name="cite", description="Find which article said this, and whether verbatim")
        @app_commands.describe(text="a quote or claim", private="only you see the result",
                               since="only articles from this date on (2021-11-16, 2021-11, 2021, 7d)",
                               until="only articles up to this date", source="only this source or site")
        async def cite(interaction: discord.Interaction,
                       text: app_commands.Range[str, 1, MAX_QUESTION_CHARS],
                       private: bool = False,
                       since: app_commands.Range[str, 1, 40] | None = None,
                       until: app_commands.Range[str, 1, 40] | None = None,
                       source: app_commands.Range[str, 1, 100] | None = None) -> None:
            when = TimeOptions(interaction.created_at, since, until, source)
            await self._serve(interaction, "cite", private, text, lambda: cite_work(engine, text, when))

        @tree.command(name="sources", description="List the indexed articles with dates and links")
        @app_commands.describe(private="only you see the list")
        async def sources(interaction: discord.Interaction, private: bool = False) -> None:
            per_page = self.options.sources_per_page
            await self._serve(interaction, "sources", private, "", lambda: sources_work(engine, per_page))

        @tree.context_menu(name="Find source")
        async def find_source(interaction: discord.Interaction, message: discord.Message) -> None:
            # Private: checking where someone's words come from should not call them out.
            text = message_text(message)
            when = TimeOptions(interaction.created_at)
            await self._serve(interaction, "find-source", True, text,
                              lambda: cite_work(engine, text, when))

    # -- threads -----------------------------------------------------------------------------
    async def _thread_of(self, channel: object, channel_id: int | None) -> ThreadInfo | None:
        """The thread citebot opened that a request came from, if it came from one."""
        if channel_id is None:
            return None
        info = await asyncio.to_thread(self.threads.get, channel_id)
        me = self.user
        if info is None and isinstance(channel, discord.Thread) and me and channel.owner_id == me.id:
            return ThreadInfo(channel.parent_id, ())  # ours, though not remembered (a new database)
        return info

    async def _remember(self, thread_id: int, info: ThreadInfo, question: str) -> None:
        """Add a question answered in one of citebot's threads to its memory."""
        if info.questions:  # remembered: every remembered thread has its opening question
            await asyncio.to_thread(self.threads.asked, thread_id, question)
        else:  # ours by its owner, but opened before this database
            await asyncio.to_thread(self.threads.opened, thread_id, info.parent_id, (question,))

    async def _open_thread(self, rid: int, channel: object, starter: discord.abc.Snowflake,
                           question: str, context: tuple[str, ...]) -> discord.Thread | None:
        """A public thread from ``starter``, named after the question; None (logged) when
        Discord refuses, so the caller answers in the channel instead."""
        try:
            if isinstance(starter, discord.Message) and starter.guild is not None:
                thread = await starter.create_thread(name=render.thread_name(question))
            elif isinstance(channel, discord.TextChannel):
                thread = await channel.create_thread(name=render.thread_name(question), message=starter)
            else:
                return None
        except (discord.HTTPException, ValueError) as exc:  # ValueError: no guild to hold it
            log.warning("request %s: could not open a thread in channel %s (%s); answering in the "
                        "channel instead (the bot needs Create Public Threads there)", rid,
                        getattr(channel, "id", "?"), exc)
            return None
        await asyncio.to_thread(self.threads.opened, thread.id, thread.parent_id, (*context, question))
        return thread

    # -- requests ----------------------------------------------------------------------------
    def allowed_in(self, channel_id: int | None, channel: object = None,
                   thread: ThreadInfo | None = None) -> bool:
        if not self.options.channels:
            return True
        # A thread counts as its channel.
        ids = {channel_id, getattr(channel, "parent_id", None), thread.parent_id if thread else None}
        return bool(ids & self.options.channels)

    async def _ask(self, interaction: discord.Interaction, question: str, private: bool,
                   reply_in: str, when: TimeOptions) -> None:
        thread = await self._thread_of(interaction.channel, interaction.channel_id)
        context = thread.questions if thread else ()
        opens = (reply_in == "thread" and not private and thread is None
                 and isinstance(interaction.channel, discord.TextChannel))
        votes = self.options.feedback
        await self._serve(
            interaction, "ask", private, question,
            lambda: ask_work(self.engine, question, context, self.feedback if votes else None, when),
            thread=thread, open_thread=opens,
        )

    async def _serve(self, interaction: discord.Interaction, command: str, private: bool, text: str,
                     work: Callable[[], Reply], *, thread: ThreadInfo | None = None,
                     open_thread: bool = False) -> None:
        """Checks, then defer at once (Discord allows 3 s), then answer by follow-up; ``work``
        (retrieval and rendering) runs in a worker thread."""
        started, outcome, rid = time.perf_counter(), "no", interaction.id
        try:
            if not self.allowed_in(interaction.channel_id, interaction.channel, thread):
                outcome = "no (channel not allowed)"
                await self._note(interaction, render.channel_message())
                return
            if wait := self.cooldown.hit(interaction.user.id):
                outcome = "no (cooldown)"
                await self._note(interaction, render.cooldown_message(wait))
                return
            await interaction.response.defer(thinking=True, ephemeral=private)
            log.debug("request %s %s text=%r", rid, command, text)
            reply = await asyncio.to_thread(work)
            await self._deliver(interaction, reply, private, open_thread=open_thread)
            if thread is not None and interaction.channel_id is not None:
                await self._remember(interaction.channel_id, thread, text)
            outcome = "yes" if reply.answered else "no"
        except discord.HTTPException as exc:
            outcome = "no (send failed)"
            log.warning("request %s %s: Discord refused a response: %s", rid, command, exc)
            await self._report_refusal(interaction, command, exc)
        except Exception as exc:
            outcome = "no (error)"
            await self._fail(interaction, command, exc, deferred_public=not private)
        finally:
            ms = (time.perf_counter() - started) * 1000
            log.info("request %s %s %.0fms answered=%s", rid, command, ms, outcome)

    async def _deliver(self, interaction: discord.Interaction, reply: Reply, private: bool, *,
                       open_thread: bool) -> None:
        if len(reply.embeds) > 1:
            pager = Pager(reply.embeds, interaction.user.id)
            pager.message = await interaction.followup.send(
                embed=reply.embeds[0], view=pager, ephemeral=private, allowed_mentions=NONE, wait=True)
            return
        (embed,) = reply.embeds
        view = buttons(answer_id=reply.answer_id, votes=self.options.feedback,
                       share=private and reply.shareable)
        if not open_thread:
            await interaction.followup.send(embed=embed, ephemeral=private, allowed_mentions=NONE,
                                            **_with_view(view))
            return
        # The channel gets one line for the question; the answer goes in a thread hanging from it.
        starter = await interaction.followup.send(render.thread_starter(reply.question),
                                                  allowed_mentions=NONE, wait=True)
        thread = await self._open_thread(interaction.id, interaction.channel, starter, reply.question, ())
        if thread is None:
            await starter.edit(content=None, embed=embed, allowed_mentions=NONE, **_with_view(view))
            return
        await thread.send(embed=embed, allowed_mentions=NONE, **_with_view(view))

    async def _report_refusal(self, interaction: discord.Interaction, command: str,
                              exc: discord.HTTPException) -> None:
        """After Discord refused the answer, try once to turn "thinking…" into a short error,
        so the asker is not left waiting until the interaction token expires."""
        if not interaction.response.is_done():
            return
        try:
            await interaction.edit_original_response(content=render.send_failed_message(exc),
                                                     embed=None, view=None, allowed_mentions=NONE)
        except discord.HTTPException as again:
            log.warning("request %s %s: could not replace the thinking message either: %s",
                        interaction.id, command, again)
        else:
            log.info("request %s %s: replaced the thinking message with a short error",
                     interaction.id, command)

    async def _note(self, interaction: discord.Interaction, text: str) -> None:
        await interaction.response.send_message(render.clip_content(text), ephemeral=True,
                                                allowed_mentions=NONE)

    async def _fail(self, interaction: discord.Interaction, command: str, exc: BaseException,
                    *, deferred_public: bool) -> None:
        if isinstance(exc, InputError):
            log.info("request %s %s: %s", interaction.id, command, exc)
        elif isinstance(exc, CitebotError):  # the index or the disk: one line for whoever runs it
            log.warning("request %s %s: %s", interaction.id, command, exc)
        else:
            log.error("request %s %s failed", interaction.id, command, exc_info=exc)
        try:
            if not interaction.response.is_done():
                await self._note(interaction, render.error_message(exc))
                return
            if deferred_public:
                # The first follow-up would replace the public "thinking" message and be seen
                # by everyone; removing it first lets the error go to the asker alone.
                await interaction.delete_original_response()
            await interaction.followup.send(render.error_message(exc), ephemeral=True,
                                            allowed_mentions=NONE)
        except discord.HTTPException as send_exc:
            log.warning("request %s %s: could not report the error: %s", interaction.id, command,
                        send_exc)

    async def _on_tree_error(self, interaction: discord.Interaction,
                             error: app_commands.AppCommandError) -> None:
        if isinstance(error, app_commands.CommandNotFound | app_commands.CommandSignatureMismatch):
            # Discord still shows an older version of the commands: not a bug, and not the user's.
            data: dict[str, Any] = dict(interaction.data or {})
            name = data.get("name", "?")
            log.warning("request %s: Discord sent the command %r, which this version of the bot "
                        "does not have in that form; run `citebot discord --sync` to update "
                        "Discord's copy of the commands", interaction.id, name)
            try:
                if not interaction.response.is_done():
                    await self._note(interaction, render.out_of_date_message())
            except discord.HTTPException as exc:
                log.warning("request %s: could not say the command is out of date: %s",
                            interaction.id, exc)
            return
        cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        await self._fail(interaction, getattr(interaction.command, "name", "?"), cause,
                         deferred_public=False)

    # -- buttons -----------------------------------------------------------------------------
    async def on_vote(self, interaction: discord.Interaction, answer_id: str, up: bool) -> None:
        started, outcome = time.perf_counter(), "?"
        try:
            result = await asyncio.to_thread(self.feedback.vote, answer_id, interaction.user.id,
                                             UP if up else DOWN)
            outcome, text = result, render.vote_ack(result, up)
        except NotFoundError:
            outcome, text = "unknown answer", render.vote_gone()
        except Exception as exc:
            outcome, text = "error", render.error_message(exc)
            log.error("request %s vote failed", interaction.id, exc_info=exc)
        try:
            await self._note(interaction, text)
        except discord.HTTPException as exc:
            log.warning("request %s vote: could not confirm it: %s", interaction.id, exc)
        finally:
            ms = (time.perf_counter() - started) * 1000
            log.info("request %s vote %s %.0fms answer=%s %s", interaction.id, "up" if up else "down",
                     ms, answer_id, outcome)

    async def on_share(self, interaction: discord.Interaction, answer_id: str | None) -> None:
        """Post a private answer's embed publicly in its channel, crediting who shared it."""
        started, outcome, msg = time.perf_counter(), "no", interaction.message
        try:
            if msg is None or not msg.embeds:
                outcome = "no (nothing to share)"
                await self._note(interaction, render.nothing_to_share())
                return
            if not self._shared.add(msg.id):
                outcome = "no (already shared)"
                await self._note(interaction, render.already_shared())
                return
            view = buttons(answer_id=answer_id, votes=self.options.feedback, share=False)
            await interaction.response.send_message(
                render.shared_by(interaction.user.mention), embeds=msg.embeds,
                allowed_mentions=NONE, **_with_view(view))
            outcome = "yes"
        except discord.HTTPException as exc:
            outcome = "no (send failed)"
            log.warning("request %s share: Discord refused it: %s", interaction.id, exc)
            with contextlib.suppress(discord.HTTPException):
                if not interaction.response.is_done():
                    await self._note(interaction, render.send_failed_message(exc))
        finally:
            ms = (time.perf_counter() - started) * 1000
            log.info("request %s share %.0fms shared=%s", interaction.id, ms, outcome)

    # -- mentions ----------------------------------------------------------------------------
    async def on_message(self, message: discord.Message) -> None:
        me = self.user
        if me is None or message.author.bot:
            return
        named = re.search(rf"<@!?{me.id}>", message.content) is not None
        # Replying to a message of citebot's with "ping on" (Discord's default) puts citebot in
        # the mentions without naming it: that alone is no question for us ("thanks!").
        pinged = message.reference is not None and any(u.id == me.id for u in message.mentions)
        if not named and not pinged:
            return  # @everyone and role pings are not questions for us
        question = re.sub(rf"<@!?{me.id}>", " ", message.content).strip()
        thread = await self._thread_of(message.channel, message.channel.id)
        if not named and not ((self.options.reply_in == "thread" or thread) and is_question(question)):
            return
        if not self.allowed_in(message.channel.id, message.channel, thread):
            return  # silently: a mention outside the allowed channels is not an error
        started, outcome = time.perf_counter(), "no"
        try:
            if not question:
                outcome = "no (help)"
                await self._reply(message, content=render.help_message(me.name))
            elif wait := self.cooldown.hit(message.author.id):
                outcome = "no (cooldown)"
                await self._reply(message, content=render.cooldown_message(wait))
            else:
                outcome = await self._answer_message(message, question, thread)
        except discord.HTTPException as exc:
            outcome = "no (send failed)"
            log.warning("request %s mention: could not reply in channel %s: %s", message.id,
                        message.channel.id, exc)
        except Exception as exc:
            outcome = "no (error)"
            if isinstance(exc, InputError):  # the asker's to fix, not a fault of the bot
                log.info("request %s mention: %s", message.id, exc)
            elif isinstance(exc, CitebotError):  # the index or the disk: one line, no traceback
                log.warning("request %s mention: %s", message.id, exc)
            else:
                log.error("request %s mention failed", message.id, exc_info=exc)
            try:
                await self._reply(message, content=render.error_message(exc))
            except discord.HTTPException as send_exc:
                log.warning("request %s mention: could not report the error: %s", message.id,
                            send_exc)
        finally:
            ms = (time.perf_counter() - started) * 1000
            log.info("request %s mention %.0fms answered=%s", message.id, ms, outcome)

    async def _answer_message(self, message: discord.Message, question: str,
                              thread: ThreadInfo | None) -> str:
        """Answer a mention: in its thread with the thread's questions as context; as a reply
        to an answer of citebot's with that answer's question; else alone, in a new thread in
        thread mode."""
        if thread is not None:
            context = thread.questions
        else:
            context = await asyncio.to_thread(self._context_of_reply, message)
        log.debug("request %s mention text=%r context=%r", message.id, question, context)
        votes = self.options.feedback
        reply = await asyncio.to_thread(ask_work, self.engine, question, context,
                                        self.feedback if votes else None,
                                        TimeOptions(message.created_at))
        (embed,) = reply.embeds
        view = buttons(answer_id=reply.answer_id, votes=votes, share=False)
        opened = None
        in_channel = isinstance(message.channel, discord.TextChannel)
        if thread is None and self.options.reply_in == "thread" and in_channel:
            opened = await self._open_thread(message.id, message.channel, message, question, context)
        if opened is not None:
            await opened.send(embed=embed, allowed_mentions=NONE, **_with_view(view))
        else:
            await self._reply(message, embed=embed, **_with_view(view))
            if thread is not None:
                await self._remember(message.channel.id, thread, question)
        return "yes" if reply.answered else "no"

    def _context_of_reply(self, message: discord.Message) -> tuple[str, ...]:
        """When a message replies to one of citebot's answers: that answer's conversation."""
        ref = message.reference.resolved if message.reference else None
        me = self.user
        if not isinstance(ref, discord.Message) or me is None or ref.author.id != me.id:
            return ()
        answer_id = answer_id_of(ref)
        recorded = self.feedback.answer(answer_id) if answer_id else None
        if recorded is not None:
            return (*recorded.context, recorded.question)[-THREAD_CONTEXT:]
        title = ref.embeds[0].title if ref.embeds else None  # an answer from before feedback
        return (title,) if title else ()

    async def _reply(self, message: discord.Message, **kwargs: Any) -> None:
        # Not message.reply(): a deleted original should not turn the answer into an error.
        await message.channel.send(reference=message.to_reference(fail_if_not_exists=False),
                                   allowed_mentions=NONE, mention_author=False, **kwargs)


def message_text(message: discord.Message) -> str:
    """The text the Find source command looks up: the content, else embed descriptions
    (so it also works on citebot's own answers); cut at a sentence to the engine's limit."""
    text = message.content.strip()
    if not text:  # an embed, e.g. one of citebot's answers: its quotes without the markup
        text = "\n".join(e.description or "" for e in message.embeds)
        text = re.sub(r"\\(.)", r"\1", re.sub(r"(?m)^> | \[\d+\]$", "", text)).strip()
    if len(text) > MAX_QUESTION_CHARS:
        text = render.clip(text, MAX_QUESTION_CHARS).removesuffix(render.ELLIPSIS)
    return text


# What the worker threads do: retrieval, recording and rendering, off the event loop.
@dataclass(frozen=True, slots=True)
class TimeOptions:
    """When a request was made (Discord's timestamp: the asking date) and its date options."""

    as_of: datetime | None = None
    since: str | None = None
    until: str | None = None
    source: str | None = None

    def kwargs(self) -> dict[str, Any]:
        return {"as_of": self.as_of, "since": self.since, "until": self.until, "source": self.source}


def ask_work(engine: Citebot, question: str, context: tuple[str, ...] = (),
             feedback: FeedbackStore | None = None, when: TimeOptions | None = None) -> Reply:
    """The answer, with ``context`` (a thread's earlier questions) for a follow-up; recorded in
    ``feedback`` so its 👍 / 👎 buttons can refer to it."""
    ans = engine.answer(question, context=context, **(when or TimeOptions()).kwargs())
    answer_id = None
    if feedback is not None:
        ids = [engine.sentence_ids(q) for q in ans.quotes]
        answer_id = feedback.record(ans, context=context, sentence_ids=ids)
    return Reply([render.answer_embed(ans)], ans.answered, answer_id, ans.question, shareable=True)


def cite_work(engine: Citebot, text: str, when: TimeOptions | None = None) -> Reply:
    if not text.strip():  # Find source on a message that is only an image, say
        raise InputError("that message has no text to look up")
    matches = engine.cite(text, **(when or TimeOptions()).kwargs())
    return Reply([render.cite_embed(text, matches)], bool(matches), question=text, shareable=True)


def sources_work(engine: Citebot, per_page: int) -> Reply:
    items = engine.sources()
    return Reply(render.sources_pages(items, per_page), bool(items))


# -- running ------------------------------------------------------------------------------
async def serve(client: CitebotClient, token: str) -> int:
    """Run until closed; Discord's failures become one line on stderr and an exit code."""
    redact = RedactFilter(token).redact
    try:
        loop = asyncio.get_running_loop()
        # Not possible off the main thread or on Windows; Ctrl-C still works there.
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGTERM, lambda: loop.create_task(client.close()))
        async with client:
            await client.start(token)
    except discord.LoginFailure:
        print(REJECTED_TOKEN, file=sys.stderr)
        return 1
    except discord.ConnectionClosed as exc:
        if exc.code == 4004:  # the gateway's "authentication failed"
            print(REJECTED_TOKEN, file=sys.stderr)
        else:
            print(f"citebot: error: the Discord gateway closed the connection (code {exc.code}): "
                  f"{redact(str(exc))}", file=sys.stderr)
        return 1
    except (discord.HTTPException, discord.GatewayNotFound) as exc:
        print(f"citebot: error: the Discord API at {client.options.api_base} failed: "
              f"{redact(str(exc))}", file=sys.stderr)
        return 1
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        print(f"citebot: error: cannot reach Discord at {client.options.api_base} "
              f"({redact(str(exc)) or type(exc).__name__}); check CITEBOT_DISCORD_API_BASE "
              "and the network", file=sys.stderr)
        return 1
    return 0


def run_discord(settings: Settings, index: Path | None = None, sync: bool = False, *,
                engine: Citebot | None = None, watch: bool = False,
                started: Callable[[CitebotClient], None] | None = None) -> int:
    """What ``citebot discord`` does. ``engine`` and ``started`` (called with the client before
    it connects, so a caller can close it) are for embedding and tests."""
    secret = settings.discord_token.get_secret_value().strip() if settings.discord_token else ""
    if not secret:
        print(MISSING_TOKEN, file=sys.stderr)
        return 2
    if "log_level" not in settings.model_fields_set and log.getEffectiveLevel() > logging.INFO:
        # The terminal commands default to warnings only; a service should say what it does.
        log.setLevel(logging.INFO)
    remove = install_redaction(secret)
    try:
        if engine is None:
            engine = make_engine(settings, index)
        ensure_index(engine, settings)
        engine.open()  # load the model and index now, not on the first question
        options = BotOptions.from_settings(settings, sync=sync)
        log.info("index %s open with %d articles; connecting to %s", engine.index_dir,
                 len(engine.sources()), options.api_base)
        client = CitebotClient(engine, options)
        if watch:
            from .feeds_cli import start_watch_thread

            start_watch_thread(settings, engine)
        if started is not None:
            started(client)
        return asyncio.run(serve(client, secret))
    except CitebotError as exc:
        print(f"citebot: error: {RedactFilter(secret).redact(str(exc))}", file=sys.stderr)
        return exc.exit_code
    finally:
        remove()
