"""The character as its own initiative speaks (proactive rounds, check-ins, the custom status): the narrow
things those read, handed in by the composition root (bot/runtime/composition.py) instead of the reply
engine: the store, the settings, the model client, the character (its key and its persona, read live: the
files may change), its own accounts, the reply filters its text goes through before Discord, and the one
rule of whom it may reach (bot/operator/reach.py), whose permit Discord's side asks before it opens a DM or a
channel for it."""

from __future__ import annotations

from collections.abc import Collection

from bot.alive.style import profile_of, unprompted_line
from bot.core.character import CharacterSource
from bot.core.claude import ClaudeClient, Prompt
from bot.core.config import Settings
from bot.core.persona.model import Persona
from bot.core.policy import ServerPolicies, language_hint
from bot.core.reach import Rule
from bot.core.stages import Incoming, ReplyFilter
from bot.reply.delivery import finish_text
from database.store import Store


class Speaker:
    def __init__(self, store: Store, settings: Settings, claude: ClaudeClient, character: CharacterSource,
                 character_key: str, accounts: Collection[int], filters: tuple[ReplyFilter, ...],
                 reach: Rule, policies: ServerPolicies | None = None) -> None:
        self.store = store
        self.settings = settings  # the whole settings: its models, alive, discord and typing sections
        self.claude = claude
        self.character = character
        self.character_key = character_key
        self.own_author_ids = accounts  # its own lines, told apart from the others' in a channel's log
        self.filters = filters
        self.reach = reach
        self.policies = policies  # each server's /settings: the language it speaks, among them

    async def language(self, guild_id: int | None) -> str:
        """The server's language instruction (its /settings language; "" in a DM or where none is set): what
        the character says unprompted there is in it, as its replies are."""
        if guild_id is None or self.policies is None:
            return ""
        policy = await self.policies.of(guild_id)
        return language_hint(policy) if policy is not None else ""

    async def voice_for(self, user_id: int, name: str, said: str = "") -> str:
        """How ``name`` writes, as a reply to them says it, with their language and register said outright
        (bot/alive/style.py ``unprompted_line``): what the character says to them unprompted is in it.
        ``said``: their latest words the request holds. Their profile exists only while they are remembered
        (consent drops it)."""
        return unprompted_line(profile_of(await self.store.style.get(user_id)), name, said)

    async def language_name(self, guild_id: int | None) -> str:
        """The server's /settings language as set ("" in a DM or where none is set)."""
        if guild_id is None or self.policies is None:
            return ""
        policy = await self.policies.of(guild_id)
        return policy.language if policy is not None else ""

    @property
    def persona(self) -> Persona:
        return self.character.current()

    async def line(self, request: Prompt, *, user_id: int | None, guild_id: int | None, purpose: str) -> str:
        """What the character says to ``request``, on the reply model with its persona's length and
        temperature, stripped ("": nothing said); ClaudeUnavailable when the model fails (each caller says
        what that costs it)."""
        persona = self.persona
        completion = await self.claude.generate(
            request, model=self.settings.models.default_model, user_id=user_id, guild_id=guild_id,
            purpose=purpose, max_tokens=persona.max_tokens, temperature=persona.temperature)
        return completion.text.strip()

    def finish_text(self, msg: Incoming, text: str) -> str:
        """The text as it goes to Discord, through the same filters as a reply (emote names made valid)."""
        return finish_text(self.filters, msg, text)
