"""Who may talk to the character: ``allow_dms`` and the allow and block lists of users and roles.

The lists are global settings (AccessSettings); a server's admins override each list there with
``/settings set`` (bot/features/servertools/settings.py). Asked through the one rule (bot/operator/reach.py)
by every way the character speaks or listens: once per message, after it is logged and before any reply work
(no vote, no memory, no model call), and by the slash commands, the voice calls and the unprompted ways.

The rules: the bot's admins are never refused; DMs need ``allow_dms``; a blocked user or role is refused
even when an allow list names them too; an empty allow list lets everyone in, else the person must be on
``allowed_users`` or hold one of ``allowed_roles``. Roles exist only in servers: in a DM the role lists do
not apply (restrict DMs with ``allow_dms`` or ``allowed_users``).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass

from bot.core.config.holder import Derived, snapshot
from bot.core.config.sections import SecretSettings, parse_ids
from bot.core.config.service import AccessSettings
from bot.core.i18n import N_
from bot.core.lines import Line
from database.records import ServerConfig
from database.servers import Servers

log = logging.getLogger(__name__)

LISTS = ("allowed_users", "blocked_users", "allowed_roles", "blocked_roles")


@dataclass(frozen=True)
class AccessRules:
    """The lists in force in one place (a server's own where it set them, else the global ones)."""

    allow_dms: bool = True
    allowed_users: frozenset[int] = frozenset()
    blocked_users: frozenset[int] = frozenset()
    allowed_roles: frozenset[int] = frozenset()
    blocked_roles: frozenset[int] = frozenset()

    def refusal(self, user_id: int, roles: Collection[int], *, is_dm: bool) -> Line | None:
        """Why this person may not talk to the character here, or None when they may."""
        if is_dm and not self.allow_dms:
            return Line(N_("direct messages are off (allow_dms)"))
        if user_id in self.blocked_users:
            return Line(N_("on blocked_users"))
        if not is_dm and not self.blocked_roles.isdisjoint(roles):
            return Line(N_("holds a role on blocked_roles"))
        role_list = self.allowed_roles if not is_dm else frozenset()
        if not self.allowed_users and not role_list:
            return None  # an empty allow list lets everyone in
        if user_id in self.allowed_users or not role_list.isdisjoint(roles):
            return None
        if role_list:
            return Line(N_("not on allowed_users and holds no role on allowed_roles"))
        return Line(N_("not on allowed_users"))


def list_value(access: AccessSettings, config: ServerConfig | None, name: str) -> str:
    """A list as set for a server (its own value where it set one, "" counting), else the global one."""
    own = getattr(config, name) if config is not None else None
    return own if own is not None else str(getattr(access, name))


def rules_for(access: AccessSettings, config: ServerConfig | None) -> AccessRules:
    """The rules in a server (``config``: its stored settings) or, with None, in DMs."""
    return AccessRules(access.allow_dms, *(parse_ids(list_value(access, config, n)) for n in LISTS))


class AccessGate:
    """Who may talk: the first half of the one rule (bot/operator/reach.py), which every way asks.
    ``access``: the global lists (the running section: the rules kept are made again when a reload changes
    it); ``servers``: each server's own lists; the bot's admins, never refused: ``admin_user_ids`` of
    ``secrets`` (the running section: a reload applies) and ``owners``, the application's (its owner, or
    its team's owner and admins: bot/discord/permissions.py ``owner_ids``, known from login on)."""

    def __init__(self, access: AccessSettings, servers: Servers, secrets: SecretSettings,
                 owners: Collection[int] = frozenset()) -> None:
        self.access = access
        self.servers = servers
        self._secrets = secrets
        self._owners = frozenset(owners)
        self._admins: tuple[str, frozenset[int]] = ("", frozenset())  # admin_user_ids, as last parsed
        self._kept: Derived[int | None, AccessRules] = Derived()
        # What settled() last saw of the running sections, and how often they changed since.
        self._seen: tuple[AccessSettings, str] = (snapshot(access), secrets.admin_user_ids)
        self._reloads = 0

    def is_admin(self, user_id: int) -> bool:
        """Whether ``user_id`` is one of the bot's admins (no trip to Discord: every message asks)."""
        if user_id in self._owners:
            return True
        raw = self._secrets.admin_user_ids
        if raw != self._admins[0]:
            self._admins = (raw, parse_ids(raw))
        return user_id in self._admins[1]

    def settled(self, guild_id: int | None) -> tuple[int, int] | None:
        """A token of everything an answer in ``guild_id`` (None: a DM) depends on: the server's stored
        lists (their copy's version), the global lists and the admins (how often a reload changed them,
        seen at the very next call: the sections are compared). Answers may be kept while it stays the same;
        None when the stored lists must be read again first (ask :meth:`refusal`)."""
        seen, admins = self._seen
        if self.access != seen or self._secrets.admin_user_ids != admins:
            self._seen = (snapshot(self.access), self._secrets.admin_user_ids)
            self._reloads += 1
        if guild_id is None:  # a DM reads no server's lists
            return 0, self._reloads
        stored = self.servers.settled()
        return None if stored is None else (stored, self._reloads)

    async def refusal(self, user_id: int, roles: Collection[int], guild_id: int | None) -> Line | None:
        """Why ``user_id`` (holding ``roles``) may not talk to the character in ``guild_id`` (None: a DM)."""
        if self.is_admin(user_id):
            return None
        config = await self.servers.get(guild_id) if guild_id is not None else None  # cached
        return self._rules(config).refusal(user_id, roles, is_dm=guild_id is None)

    def _rules(self, config: ServerConfig | None) -> AccessRules:
        """rules_for(), kept per server while neither its stored settings (the store's cached object) nor
        the global access section (a live reload) changed: every message asks."""
        access = self.access
        key = config.guild_id if config is not None else None
        rules = self._kept.kept(key, (config, access))
        if rules is None:
            rules = self._kept.keep(key, (config, snapshot(access)), rules_for(access, config))
        return rules
