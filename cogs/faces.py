"""``/bot face avatar|banner|bio|reset``: the character's face in this server (server admins), a subgroup of
``/bot`` (cogs/activation.py) added by this cog. The change and Discord's rate window are the faces
feature's (bot/features/faces/faces.py); reset returns to the character's own face
(bot/features/faces/character_faces.py). Discord's side of a face's edit is this cog's
(:class:`DiscordFaces`), connected to the feature as it loads."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.core.i18n import N_, t
from bot.discord.language import answer_language
from bot.discord.media import read_capped
from bot.discord.permissions import server_admin_only
from bot.discord.subgroups import BotSubgroup
from bot.discord.ui import tell
from bot.features.faces import CharacterFaces, Faces
from bot.features.faces.faces import (
    BIO_LIMIT,
    IMAGE_LIMIT,
    FaceRefused,
    FaceWriteLimited,
    declared_problem,
    decode_image,
)
from bot.reply.media import TooLarge
from database.boundary import JsonObject

if TYPE_CHECKING:
    from bot.discord.client import Interaction, Kindred

log = logging.getLogger(__name__)


# What a change is of, as the answers name it (said in the admin's language).
WHAT = {"avatar": N_("my avatar"), "banner": N_("my banner"), "bio": N_("my bio"), "face": N_("my face")}


async def change_face(interaction: Interaction, change: JsonObject | None, field: str) -> None:
    """Change (None: reset) the face in the interaction's server, once its answer is deferred."""
    language = await answer_language(interaction)
    what = t(language, WHAT[field])
    assert interaction.guild_id is not None  # server_admin_only
    services = interaction.client.services
    left_out: tuple[str, ...] = ()
    try:
        if change is None:  # back to the character's own face (Discord's default when it has none)
            due, own = await services.part(CharacterFaces).reset(interaction.guild_id)
            left_out = own.problems
        else:
            due = await services.part(Faces).change(interaction.guild_id, change)
    except (ValueError, discord.HTTPException, LookupError) as exc:
        await interaction.edit_original_response(content=t(language, "I could not change {what}: {reason}",
                                                             what=what, reason=t(language, str(exc))))
        return
    log.info("server admin %s changed the face (%s) in server %s", interaction.user.id, what,
             interaction.guild_id)
    # A picture of the character's folder Discord would refuse is left out, and said so.
    note = "".join("\n" + t(language, "Not shown: {problem}.", problem=problem) for problem in left_out)
    if due is None:
        await interaction.edit_original_response(
            content=t(language, "Done: {what} changed in this server.", what=what) + note)
    else:
        # Discord limits how often a face changes; the change waits for the window, then is sent once.
        await interaction.edit_original_response(
            content=t(language, "Discord limits how often I may change my face: {what} will change {when}.",
                      what=what, when=discord.utils.format_dt(due, "R")) + note)


async def change_image(interaction: Interaction, field: str, image: discord.Attachment) -> None:
    language = await answer_language(interaction)
    what = t(language, WHAT[field])
    # Refused by what it declares, before a byte is downloaded.
    if problem := declared_problem(image.content_type, image.size, language):
        await tell(interaction, t(language, "I could not change {what}: {file} is {problem}.", what=what,
                                  file=image.filename, problem=problem))
        return
    await interaction.response.defer(ephemeral=True, thinking=True)  # a download may take a while
    try:
        # streamed and cut at the limit: a file larger than it declared is never read whole
        data = await read_capped(image, IMAGE_LIMIT)
    except TooLarge:
        await interaction.edit_original_response(
            content=t(language, "I could not change {what}: {file} is larger than it said, over Discord's "
                                "limit of {limit} MiB for a profile picture.", what=what, file=image.filename,
                      limit=IMAGE_LIMIT // 1024 // 1024))
        return
    except discord.HTTPException as exc:
        await interaction.edit_original_response(
            content=t(language, "I could not change {what}: {file} could not be downloaded ({error}).",
                      what=what, file=image.filename, error=exc))
        return
    await change_face(interaction, {field: data}, field)


class FaceCommands(app_commands.Group):
    """The subgroup, one for each bot (its cog builds it): it holds nothing of a bot's and
    reads the faces from the bot the interaction came to."""

    @app_commands.command(name="avatar", description="My avatar in this server.")
    @app_commands.describe(image="A PNG, JPEG, GIF or WebP image")
    @server_admin_only()
    async def face_avatar(self, interaction: Interaction, image: discord.Attachment) -> None:
        await change_image(interaction, "avatar", image)

    @app_commands.command(name="banner", description="My profile banner in this server.")
    @app_commands.describe(image="A PNG, JPEG, GIF or WebP image")
    @server_admin_only()
    async def face_banner(self, interaction: Interaction, image: discord.Attachment) -> None:
        await change_image(interaction, "banner", image)

    @app_commands.command(name="bio", description="My profile bio in this server.")
    @app_commands.describe(text=f"At most {BIO_LIMIT} characters")
    @server_admin_only()
    async def face_bio(self, interaction: Interaction, text: app_commands.Range[str, 1, BIO_LIMIT]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await change_face(interaction, {"bio": text}, "bio")

    @app_commands.command(name="reset", description="Back to my own avatar, banner and bio in this server.")
    @server_admin_only()
    async def face_reset(self, interaction: Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await change_face(interaction, None, "face")


class DiscordFaces:
    """The faces' Discord side (bot/features/faces/faces.py ``FaceWriter``): one current-member edit
    (``PATCH /guilds/{guild}/members/@me``) through discord.py's ``Member.edit`` on the bot's own member."""

    def __init__(self, client: discord.Client) -> None:
        self.client = client

    async def write(self, guild_id: int, change: JsonObject) -> None:
        guild = self.client.get_guild(guild_id)
        if guild is None:
            raise LookupError(f"not a member of server {guild_id}")
        kwargs: dict[str, bytes | str | None] = {}
        for field in ("avatar", "banner"):
            if field in change:
                kwargs[field] = decode_image(change[field])
        if "bio" in change:
            kwargs["bio"] = change["bio"]
        try:
            await guild.me.edit(**kwargs)  # type: ignore[arg-type]
        except discord.RateLimited as limited:
            raise FaceWriteLimited(limited.retry_after) from limited
        except discord.HTTPException as exc:
            if 400 <= exc.status < 500 and exc.status != 429:  # for good; a 429 or a 5xx passes
                raise FaceRefused(" ".join(str(exc).split())) from None
            raise


class FaceAdmin(BotSubgroup):
    def __init__(self, bot: Kindred) -> None:
        super().__init__(bot, FaceCommands(
            name="face", description="My avatar, banner and bio in this server (server admins)."))
        self.faces = bot.services.part(Faces)

    async def cog_load(self) -> None:
        await super().cog_load()
        # the faces are sent from now on (the character's own once connected, after the cogs load)
        self.faces.connect(DiscordFaces(self.bot))

    async def cog_unload(self) -> None:
        self.faces.connect(None)
        await super().cog_unload()


async def setup(bot: Kindred) -> None:
    await bot.add_cog(FaceAdmin(bot))
