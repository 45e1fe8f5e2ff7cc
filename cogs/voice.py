"""``/voice join`` (into the caller's voice channel) and ``/voice leave``: the character in a voice channel
of this server (bot/features/voice/calls.py decides; bot/discord/voicechat/ connects, hears and speaks).

As it loads, the cog connects the voice feature's Discord side: the calls' voice connection (joined, heard
and spoken into through bot/discord/voicechat/), the main character's reply also sent as a voice message
(bot/discord/voice.py, a post observer of the message flow), and the order they let go at a close (every
call left first, while the gateway is up; the speech clients closed last)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.language import answer_language
from bot.discord.permissions import in_server, is_server_admin
from bot.discord.voice import VoiceReplies
from bot.discord.voicechat.calls import DiscordCalls
from bot.discord.voicechat.talk import CallTalk
from bot.features.voice.calls import Caller, Calls
from bot.features.voice.config import VoiceSettings
from bot.features.voice.speech import VoiceService

if TYPE_CHECKING:
    from bot.discord.client import Interaction, Kindred


CALL = discord.Permissions(connect=True, speak=True, use_voice_activation=True, set_voice_channel_status=True)


async def caller_of(interaction: Interaction) -> Caller:
    """Who asks, as the calls' rules read them (bot/features/voice/calls.py)."""
    user = interaction.user
    roles = [r.id for r in user.roles] if isinstance(user, discord.Member) else []
    return Caller(user.id, roles, await is_server_admin(interaction.client, interaction))


class Voice(commands.Cog):
    group = app_commands.Group(
        name="voice", description="Talk with me in a voice channel.", guild_only=True,
        allowed_contexts=app_commands.AppCommandContext(guild=True))

    def __init__(self, bot: Kindred) -> None:
        self.bot = bot
        self.calls = bot.services.part(Calls)
        self.replies = VoiceReplies(bot)

    async def cog_load(self) -> None:
        # the calls join and hear through Discord's voice connection
        self.calls.connect(DiscordCalls(self.bot, CallTalk(self.bot).heard))
        self.bot.flow.connect(self.replies)
        self.bot.closing.connect(first=self.calls.close, last=self.bot.services.part(VoiceService).close)

    def permissions_asked(self) -> tuple[discord.Permissions, str]:
        """A reply also sent as a voice message; with voice channels on, a call's too: joining one, speaking
        and being heard by voice activity (a bot has no push-to-talk key), and showing in the channel's
        status that it listens (bot/discord/voicechat/status.py)."""
        voice_messages = discord.Permissions(send_voice_messages=True)
        if not self.bot.settings.section(VoiceSettings).voice_channels:
            return voice_messages, ""
        note = "with Connect, Speak, Use Voice Activity and Set Voice Channel Status: voice_channels is on"
        return voice_messages | CALL, note

    async def cog_unload(self) -> None:
        # (its close steps stay: the bot's close unloads the cogs before it runs the last of them)
        self.bot.flow.disconnect(self.replies)

    @group.command(name="join", description="Call me into the voice channel you are in.")
    @in_server()
    async def join(self, interaction: Interaction) -> None:
        assert interaction.guild_id is not None  # in_server
        state = interaction.user.voice if isinstance(interaction.user, discord.Member) else None
        channel = state.channel if state is not None else None
        await interaction.response.defer(ephemeral=True, thinking=True)  # connecting takes a moment
        text = await self.calls.join(interaction.guild_id, channel.id if channel is not None else None,
                                     await caller_of(interaction), await answer_language(interaction))
        await interaction.edit_original_response(content=text)

    @commands.Cog.listener()
    async def on_voice_state_update(self, member: discord.Member, before: discord.VoiceState,
                                    after: discord.VoiceState) -> None:
        # who is in the call changed: it leaves when alone for voice_idle_seconds
        self.calls.voice_states_changed(member.guild.id)

    @group.command(name="leave", description="Send me out of this server's voice channel.")
    @in_server()
    async def leave(self, interaction: Interaction) -> None:
        assert interaction.guild_id is not None  # in_server
        # Answered at once (Discord gives up on an interaction after 3 s): leaving waits for the voice
        # connection to close and Discord to confirm, whatever the character is saying meanwhile.
        await interaction.response.defer(ephemeral=True, thinking=True)
        text = await self.calls.send_out(interaction.guild_id, await caller_of(interaction),
                                         await answer_language(interaction))
        await interaction.edit_original_response(content=text)


async def setup(bot: Kindred) -> None:
    await bot.add_cog(Voice(bot))
