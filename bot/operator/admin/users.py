"""The people the bot knows, as admins see them: look-ups by typed id, autocomplete, the figures of
``user data?`` and ``list users``, and the ``premium`` switch."""

from __future__ import annotations

from bot.core.config import ModelSettings
from bot.core.i18n import N_
from bot.core.text import Page, page_of
from bot.operator.admin.language import (
    MAX_CHOICES,
    Choice,
    Report,
    format_user_data,
    parse_user_id,
    premium_answer,
    render_users_page,
    usage,
    user_choice,
)
from bot.operator.conversation_tools import InvalidInput
from database.people import People
from database.records import UserRecord

PAGE_SIZE = 10  # people per ``list users`` page


class Users:
    """``character`` is the name data is filed under (ReplyWriter.character_key); ``models``: the models
    section (which model a plan's replies use)."""

    def __init__(self, people: People, models: ModelSettings, character: str) -> None:
        self.people = people
        self.models = models
        self.character = character

    async def known(self, arg: str) -> UserRecord:
        """The user a typed id or mention names; InvalidInput when the bot has never met them."""
        user_id = parse_user_id(arg)
        user = await self.people.get_user(user_id)
        if user is None:
            raise InvalidInput(N_("I don't know user {user}: they have not talked to me yet (or their data "
                                  "was deleted)."), user=user_id)
        return user

    async def choices(self, current: str, language: str | None = None) -> list[Choice]:
        return [user_choice(u, language) for u in await self.people.search_users(current, limit=MAX_CHOICES)]

    async def data(self, arg: str, language: str | None = None) -> Report:
        """``user data? <id>``."""
        if not arg:
            raise usage("user_data")
        user = await self.known(arg)
        summary = await self.people.user_summary(self.character, user.id)
        assert summary is not None  # the user exists: known() just read it
        return format_user_data(summary, self.models, language)

    async def page(self, number: int, language: str | None = None) -> tuple[Page, Report]:
        """``list users``: the people the bot knows (other bots, and the bot itself, are left out:
        ``user data?`` still answers about them)."""
        total = await self.people.count_users()
        page = page_of(total, number, PAGE_SIZE)
        summaries = await self.people.user_summaries(self.character, offset=page.offset,
                                                           limit=page.size)
        return page, render_users_page(page, summaries, language)

    async def toggle_premium(self, arg: str, language: str | None = None) -> str:
        """``premium <id>``."""
        if not arg:
            raise usage("premium")
        user = await self.known(arg)
        premium = not user.premium
        await self.people.set_premium(user.id, premium)
        return premium_answer(user, premium, self.models, language)
