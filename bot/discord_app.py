"""``citebot discord``: the Discord front end (``/ask``, ``/cite``, ``/sources``, the
**Find source** message command and ``@citebot`` mentions), answered with cited embeds.

The engine is opened before connecting and every retrieval call runs in a worker thread,
so the gateway heartbeat and other questions never wait on the model. Only non-privileged
intents are used: mentions and message-command targets carry their text without the
message-content intent.

Other servers: discord.py builds every REST URL, interaction webhooks included, from the
class attribute ``discord.http.Route.BASE``, and (since 2.x) connects the gateway to the
class attribute ``DiscordWebSocket.DEFAULT_GATEWAY`` without asking the API. The client
sets the first from ``discord_api_base`` in ``login`` and the second in ``connect``, from
``discord_gateway_url`` or else from ``GET /gateway/bot`` on that base. Both are process
wide, so one process runs one bot.
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
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from retrieval.answer import MAX_QUESTION_CHARS
from retrieval.errors import CitebotError, InputError

from . import render_discord as render
from .cli import ensure_index, make_engine
from .discord_support import BotOptions, Cooldown, RedactFilter, install_redaction

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


class CitebotClient(discord.Client):
    """The bot: app commands on ``self.tree``, mentions in ``on_message``, and the engine and
    options passed in rather than read from globals."""

    def __init__(self, engine: Citebot, options: BotOptions) -> None:
        # citebot never joins voice, so discord.py's warnings about voice libraries are noise.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        intents = discord.Intents.default()  # no message_content: mentions carry their text
        super().__init__(intents=intents, allowed_mentions=NONE)
        self.engine, self.options = engine, options
        self.tree: app_commands.CommandTree[CitebotClient] = app_commands.CommandTree(self)
        self.tree.on_error = self._on_tree_error  # type: ignore[method-assign]
        self.cooldown = Cooldown(options.cooldown_seconds, options.cooldown_burst)

    # -- connection: where Discord is --------------------------------------------------------
    async def login(self, token: str) -> None:
        Route.BASE = self.options.api_base
        await super().login(token)

    async def connect(self, *, reconnect: bool = True) -> None:
        DiscordWebSocket.DEFAULT_GATEWAY = await self._gateway()
        await super().connect(reconnect=reconnect)

    async def _gateway(self) -> yarl.URL:
        if self.options.gateway_url:
            return yarl.URL(self.options.gateway_url)
        try:
            _shards, url, _limits = await self.http.get_bot_gateway()
        except discord.GatewayNotFound:
            log.warning("GET /gateway/bot failed; using %s", DISCORD_GATEWAY)
            return yarl.URL(DISCORD_GATEWAY)
        return yarl.URL(url)

    async def setup_hook(self) -> None:
        self._add_commands()
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
        log.info("connected as %s (id %s) in %d servers", self.user, getattr(self.user, "id", "?"),
                 len(self.guilds))

    def _add_commands(self) -> None:
        tree, engine = self.tree, self.engine

        @tree.command(name="ask", description="Answer a question with quotes from the articles")
        @app_commands.describe(question="what you want to know", private="only you see the answer")
        async def ask(interaction: discord.Interaction,
                      question: app_commands.Range[str, 1, MAX_QUESTION_CHARS],
                      private: bool = False) -> None:
            await self._serve(interaction, "ask", private, question, lambda: ask_work(engine, question))

        @tree.command(name="cite", description="Find which article said this, and whether verbatim")
        @app_commands.describe(text="a quote or claim", private="only you see the result")
        async def cite(interaction: discord.Interaction,
                       text: app_commands.Range[str, 1, MAX_QUESTION_CHARS],
                       private: bool = False) -> None:
            await self._serve(interaction, "cite", private, text, lambda: cite_work(engine, text))

        @tree.command(name="sources", description="List the indexed articles with dates and links")
        @app_commands.describe(private="only you see the list")
        async def sources(interaction: discord.Interaction, private: bool = False) -> None:
            per_page = self.options.sources_per_page
            await self._serve(interaction, "sources", private, "", lambda: sources_work(engine, per_page))

        @tree.context_menu(name="Find source")
        async def find_source(interaction: discord.Interaction, message: discord.Message) -> None:
            # Private: checking where someone's words come from should not call them out.
            text = message_text(message)
            await self._serve(interaction, "find-source", True, text, lambda: cite_work(engine, text))

    # -- requests ----------------------------------------------------------------------------
    def allowed_in(self, channel_id: int | None, channel: object = None) -> bool:
        if not self.options.channels:
            return True
        ids = {channel_id, getattr(channel, "parent_id", None)}  # a thread counts as its channel
        return bool(ids & self.options.channels)

    async def _serve(self, interaction: discord.Interaction, command: str, private: bool, text: str,
                     work: Callable[[], Rendered]) -> None:
        """Checks, then defer at once (Discord allows 3 s), then answer by follow-up; ``work``
        (retrieval and rendering) runs in a worker thread."""
        started, outcome, rid = time.perf_counter(), "no", interaction.id
        try:
            if not self.allowed_in(interaction.channel_id, interaction.channel):
                outcome = "no (channel not allowed)"
                await self._note(interaction, render.channel_message())
                return
            if wait := self.cooldown.hit(interaction.user.id):
                outcome = "no (cooldown)"
                await self._note(interaction, render.cooldown_message(wait))
                return
            await interaction.response.defer(thinking=True, ephemeral=private)
            log.debug("request %s %s text=%r", rid, command, text)
            embeds, answered = await asyncio.to_thread(work)
            if len(embeds) == 1:
                await interaction.followup.send(embed=embeds[0], ephemeral=private,
                                                allowed_mentions=NONE)
            else:
                view = Pager(embeds, interaction.user.id)
                view.message = await interaction.followup.send(
                    embed=embeds[0], view=view, ephemeral=private, allowed_mentions=NONE, wait=True)
            outcome = "yes" if answered else "no"
        except discord.HTTPException as exc:
            outcome = "no (send failed)"
            log.warning("request %s %s: Discord refused a response: %s", rid, command, exc)
        except Exception as exc:
            outcome = "no (error)"
            await self._fail(interaction, command, exc, deferred_public=not private)
        finally:
            ms = (time.perf_counter() - started) * 1000
            log.info("request %s %s %.0fms answered=%s", rid, command, ms, outcome)

    async def _note(self, interaction: discord.Interaction, text: str) -> None:
        await interaction.response.send_message(render.clip_content(text), ephemeral=True,
                                                allowed_mentions=NONE)

    async def _fail(self, interaction: discord.Interaction, command: str, exc: BaseException,
                    *, deferred_public: bool) -> None:
        if isinstance(exc, InputError):
            log.info("request %s %s: %s", interaction.id, command, exc)
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
        cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        await self._fail(interaction, getattr(interaction.command, "name", "?"), cause,
                         deferred_public=False)

    # -- mentions ----------------------------------------------------------------------------
    async def on_message(self, message: discord.Message) -> None:
        me = self.user
        if me is None or message.author.bot or not any(u.id == me.id for u in message.mentions):
            return  # @everyone and role pings are not questions for us
        if not self.allowed_in(message.channel.id, message.channel):
            return  # silently: a mention outside the allowed channels is not an error
        started, outcome = time.perf_counter(), "no"
        question = re.sub(rf"<@!?{me.id}>", " ", message.content).strip()
        try:
            if not question:
                outcome = "no (help)"
                await self._reply(message, content=render.help_message(me.name))
            elif wait := self.cooldown.hit(message.author.id):
                outcome = "no (cooldown)"
                await self._reply(message, content=render.cooldown_message(wait))
            else:
                log.debug("request %s mention text=%r", message.id, question)
                (embed,), answered = await asyncio.to_thread(ask_work, self.engine, question)
                await self._reply(message, embed=embed)
                outcome = "yes" if answered else "no"
        except discord.HTTPException as exc:
            outcome = "no (send failed)"
            log.warning("request %s mention: could not reply in channel %s: %s", message.id,
                        message.channel.id, exc)
        except Exception as exc:
            outcome = "no (error)"
            log.error("request %s mention failed", message.id, exc_info=exc)
            try:
                await self._reply(message, content=render.error_message(exc))
            except discord.HTTPException as send_exc:
                log.warning("request %s mention: could not report the error: %s", message.id,
                            send_exc)
        finally:
            ms = (time.perf_counter() - started) * 1000
            log.info("request %s mention %.0fms answered=%s", message.id, ms, outcome)

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


# What the worker threads do: retrieval, then rendering, off the event loop.
Rendered = tuple[list[discord.Embed], bool]  # the pages to send, and whether it answered


def ask_work(engine: Citebot, question: str) -> Rendered:
    ans = engine.answer(question)
    return [render.answer_embed(ans)], ans.answered


def cite_work(engine: Citebot, text: str) -> Rendered:
    if not text.strip():  # Find source on a message that is only an image, say
        raise InputError("that message has no text to look up")
    matches = engine.cite(text)
    return [render.cite_embed(text, matches)], bool(matches)


def sources_work(engine: Citebot, per_page: int) -> Rendered:
    items = engine.sources()
    return render.sources_pages(items, per_page), bool(items)


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
                engine: Citebot | None = None,
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
        if started is not None:
            started(client)
        return asyncio.run(serve(client, secret))
    except CitebotError as exc:
        print(f"citebot: error: {RedactFilter(secret).redact(str(exc))}", file=sys.stderr)
        return exc.exit_code
    finally:
        remove()
