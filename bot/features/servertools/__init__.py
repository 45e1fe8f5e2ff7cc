"""Server tools: what the character may look at and do in a server while replying, and the servers' own
tools run by slash commands: moderation, tickets, /userinfo and the per-server /settings (polls are a
feature of their own: bot/features/polls/).

* :mod:`.knowing`: the client tools lent to a reply in a server (``member_info``, events, this channel's
  log, a reaction: :class:`ServerTools`), where the ``server_tools`` switch is on (the operator's setting
  is its master switch: the tools cost tokens and reach Discord); what Discord answers is the edge's
  (bot/discord/serverview.py, a ``ServerView``, connected by cogs/info.py as it loads).
* :mod:`.moderation`, :mod:`.tickets`, :mod:`.userinfo`, :mod:`.settings`: the plain classes behind the
  slash commands (a typed duration: bot/core/durations.py).
* Its slash commands: cogs/moderation.py, cogs/info.py, cogs/tickets.py, cogs/server_settings.py; its rows:
  database/server_models.py (moderation, tickets), the servers' settings in database/place_config.py (the
  tickets' channel and staff role its own ``ServerSetting``s, :mod:`.tickets`); its
  settings: its own section (:mod:`.config` ``ServerToolSettings``). Tests:
  tests/test_moderation.py, tests/test_tickets.py, tests/test_server_settings.py,
  tests/test_server_settings_features.py,
  tests/test_server_tools_logic.py, tests/test_server_tools_units.py, tests/test_knowing_units.py.

Its registration (bot/operator/registration.py): ``FEATURE`` below.
"""

from __future__ import annotations

from bot.core.i18n import N_
from bot.features.servertools.config import ServerToolSettings
from bot.features.servertools.knowing import ServerTools
from bot.features.servertools.settings import ServerSettingsBook
from bot.features.servertools.tickets import STAFF_ROLE, TICKET_CHANNEL, TicketDesk
from bot.features.servertools.userinfo import UserInfo
from bot.operator.registration import Contribution, Feature, Parts, Switch
from database.server_models import forget_person

# the operator's server_tools setting is its master switch: the tools cost tokens and reach Discord
LOOKING = Switch("server_tools", "Let me look up members, events and this channel's messages while replying.",
                 N_("I may look up members, events and what was said here while replying"),
                 section=ServerToolSettings, key="server_tools", mastered=True)


def build(parts: Parts) -> Contribution:
    store = parts.store
    # what they read of Discord connected by the cog (cogs/info.py)
    tools = ServerTools(parts.holder.follow(ServerToolSettings), store.people, store.log,
                        parts.switch(LOOKING), parts.consent, parts.accounts, parts.name)
    desk = TicketDesk(store, parts.server_setting(TICKET_CHANNEL), parts.server_setting(STAFF_ROLE))
    return Contribution(tools=(tools,), parts=(tools, store.moderation, UserInfo(store.people),
                                               desk, ServerSettingsBook(store.servers, parts.server_setting)))


FEATURE = Feature(
    name="servertools", settings=ServerToolSettings,
    switches=(LOOKING,), server_settings=(TICKET_CHANNEL, STAFF_ROLE),
    cogs=("cogs.moderation", "cogs.info", "cogs.tickets", "cogs.server_settings"),
    forget=forget_person, build=build)
