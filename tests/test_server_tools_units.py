"""The feature classes the cogs call, on their own against the database (SQLite, and PostgreSQL when
TEST_DATABASE_URL is set): polls, the ticket desk, the moderation log, a server's settings, /userinfo, where
the bot takes part and check-in choices. Over the wire they are tested in test_polls.py, test_tickets.py,
test_moderation*.py and test_server_settings.py."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.core.timers import Timers
from bot.features.checkins.rounds import CheckInChoice
from bot.features.polls import TIMER, PollBoard, PollLifecycle, Polls
from bot.features.polls.lifecycle import Tally, parse_poll, vote_answer
from bot.features.servertools.moderation import warning_detail
from bot.features.servertools.settings import ServerSettingsBook
from bot.features.servertools.tickets import STAFF_ROLE as STAFF_SETTING
from bot.features.servertools.tickets import TICKET_CHANNEL, TicketDesk, may_close, transcript_line
from bot.features.servertools.userinfo import UserInfo, known_since
from bot.operator.places import PlaceControls
from bot.operator.registration import ServerValue
from database.models import utcnow
from database.store import Store
from database.timers import TimerRow
from tests.dbtools import open_polls

GUILD, CHANNEL, ALICE, BOB, STAFF_ROLE = 10, 20, 1, 2, 30


class Board:
    """Where the results would be shown (cogs/polls.py, over the wire): tallies it was given."""

    def __init__(self) -> None:
        self.shown: list[Tally] = []

    async def show_results(self, tally: Tally, character: str, language: str = "en") -> int | None:
        self.shown.append(tally)
        return 9000 + tally.poll.id


def polls_on(store: Store, board: PollBoard | None = None) -> PollLifecycle:
    return PollLifecycle(Polls(store.db), store.privacy, Timers(store.timers), board or Board(),
                         character=lambda: "Finn")


async def test_a_poll_is_voted_on_changed_and_closed_once(store: Store) -> None:
    polls = polls_on(store)
    now = utcnow()
    poll = await polls.create(GUILD, CHANNEL, ALICE, parse_poll("Tea?", "Yes | No | Maybe", "2h"), now)
    assert poll.options == ("Yes", "No", "Maybe") and not poll.closed
    assert [p.id for p in await open_polls(store)] == [poll.id]

    first = await polls.vote(poll.id, ALICE, 0)
    assert first.counted and first.before is None and first.tally is not None
    assert first.tally.counts == [1, 0, 0]
    moved = await polls.vote(poll.id, ALICE, 2)
    assert moved.before == 0 and moved.tally is not None and moved.tally.counts == [0, 0, 1]
    await polls.vote(poll.id, BOB, 2)
    assert vote_answer("Maybe", 2, 0) == "Your vote moved to **Maybe**."
    assert vote_answer("Maybe", 2, 2) == "You already voted for **Maybe**."
    assert vote_answer("Maybe", 2, None).startswith("You voted for **Maybe**.")

    assert (await polls.vote(poll.id, ALICE, 3)).tally is None  # no such option
    assert (await polls.vote(poll.id + 100, ALICE, 0)).tally is None  # no such poll

    closed = await polls.close(poll.id)
    assert closed is not None and closed.counts == [0, 0, 2]
    assert await polls.close(poll.id) is None  # a second close (another timer, a restart) does nothing
    late = await polls.vote(poll.id, BOB, 0)
    assert late.tally is not None and not late.counted
    assert await open_polls(store) == []


async def test_a_poll_due_before_its_board_is_connected_closes_once_it_is(store: Store) -> None:
    """The board is the cog's, handed over as it loads: a closing that comes first fails and leaves the poll
    open (its timer runs again after its lease), so no result goes unshown."""
    polls = polls_on(store)
    polls.connect(None)
    poll = await polls.create(GUILD, CHANNEL, ALICE, parse_poll("Q", "a | b", None), utcnow())
    due = TimerRow(f"poll:{poll.id}", TIMER, utcnow(), {"poll": poll.id}, None, "")
    with pytest.raises(LookupError):
        await polls.close_due(due)
    assert [p.id for p in await open_polls(store)] == [poll.id]
    board = Board()
    polls.connect(board)
    assert await polls.close_due(due) == f"poll {poll.id} closed"
    assert [t.poll.id for t in board.shown] == [poll.id] and await open_polls(store) == []


async def test_a_poll_whose_message_failed_is_dropped(store: Store) -> None:
    polls = polls_on(store)
    poll = await polls.create(GUILD, CHANNEL, ALICE, parse_poll("Q", "a | b", None), utcnow())
    await polls.posted(poll.id, 555, ALICE, polls.mark())
    assert (await polls.polls.get(poll.id)).message_id == 555  # type: ignore[union-attr]
    await polls.discard(poll.id)
    assert await polls.polls.get(poll.id) is None
    assert await open_polls(store) == []


def desk_on(store: Store) -> TicketDesk:
    channel, staff = ServerValue(TICKET_CHANNEL, store.config), ServerValue(STAFF_SETTING, store.config)
    return TicketDesk(store, channel, staff)


async def test_the_ticket_desk_opens_one_ticket_and_closes_it_once(store: Store) -> None:
    desk = desk_on(store)
    assert await desk.setup_of(GUILD) is None  # not set up: nothing to open
    await desk.set_up(GUILD, STAFF_ROLE, CHANNEL)
    config = await desk.setup_of(GUILD)
    assert config is not None and (config.staff_role_id, config.ticket_channel_id) == (STAFF_ROLE, CHANNEL)

    made: list[int] = []

    async def make_thread(ticket_id: int) -> int:
        made.append(ticket_id)
        return 900 + ticket_id

    async def undo() -> None:
        raise AssertionError("nothing failed")

    ticket_id = await desk.open(GUILD, CHANNEL, ALICE, "help", make_thread, undo, desk.mark())
    assert made == [ticket_id]
    assert await desk.open_thread_of(GUILD, ALICE) == 900 + ticket_id
    assert await desk.open_thread_of(GUILD, BOB) is None

    found = await desk.closable(ticket_id)
    assert found is not None
    ticket, server = found
    assert may_close(ticket, server, ALICE, set())  # the opener
    assert may_close(ticket, server, BOB, {STAFF_ROLE})  # the staff
    assert not may_close(ticket, server, BOB, {STAFF_ROLE + 1})  # anyone else (admins: asked of Discord)

    line = transcript_line(1, ALICE, "Alice", "hi", ["https://cdn/x.png"], utcnow())
    assert line.content == "hi\nhttps://cdn/x.png"
    assert await desk.close(ticket_id, BOB, [line])
    assert not await desk.close(ticket_id, BOB, [line])  # closed once
    assert await desk.closable(ticket_id) is None
    assert await store.tickets.transcript(ticket_id) == [line]
    assert await desk.open_thread_of(GUILD, ALICE) is None


async def test_a_ticket_whose_thread_fails_leaves_nothing(store: Store) -> None:
    desk = desk_on(store)
    await desk.set_up(GUILD, STAFF_ROLE, CHANNEL)
    undone: list[str] = []

    async def make_thread(ticket_id: int) -> int:
        raise RuntimeError("Discord refused")

    async def undo() -> None:
        undone.append("thread deleted")

    with pytest.raises(RuntimeError, match="Discord refused"):
        await desk.open(GUILD, CHANNEL, ALICE, "", make_thread, undo, desk.mark())
    assert undone == ["thread deleted"]
    assert await store.tickets.open_for(GUILD, ALICE) == []  # the row was dropped too


async def test_the_moderation_log_counts_warnings(store: Store) -> None:
    modlog = store.moderation
    assert await modlog.record(GUILD, "ban", ALICE, target_id=BOB, reason="spam") > 0
    assert warning_detail(*await modlog.warn(GUILD, BOB, ALICE, "rude")) == "warning #1, 1 in total"
    number, total = await modlog.warn(GUILD, BOB, ALICE, "rude again")
    assert warning_detail(number, total).endswith("2 in total") and number > 1
    assert [w.reason for w in await modlog.warnings(GUILD, BOB)] == ["rude", "rude again"]
    assert await modlog.warnings(GUILD, ALICE) == []
    assert "ban" in [a.action for a in await store.moderation.actions(GUILD)]


async def test_server_settings_are_set_by_key_and_cleared(store: Store) -> None:
    settings = ServerSettingsBook(store.servers, lambda s: ServerValue(s, store.config))
    assert (await settings.get(GUILD)).language is None
    await settings.set(GUILD, "language", "German")
    await settings.set(GUILD, "log_channel", CHANNEL)
    config = await settings.get(GUILD, fresh=True)
    assert (config.language, config.log_channel_id) == ("German", CHANNEL)
    await settings.set(GUILD, "language", None)  # back to the global setting
    assert (await settings.get(GUILD, fresh=True)).language is None


async def test_userinfo_knows_only_people_it_has_talked_to(store: Store) -> None:
    info = UserInfo(store.people)
    assert await info.known(ALICE) is None
    await store.people.ensure_user(ALICE, "Alice")
    known = await info.known(ALICE)
    assert known is not None and known_since(known, utcnow() + timedelta(days=3)) == 3
    rel = await info.relationship("kira", ALICE)
    assert 0 <= rel.trust <= 10


async def test_places_and_switches(store: Store) -> None:
    places = PlaceControls(store.places, store.switches)
    assert await places.is_active(CHANNEL, GUILD)  # active unless switched off
    await places.set_active("guild", GUILD, False)
    assert not await places.is_active(CHANNEL, GUILD)
    await places.set_active("channel", CHANNEL, True)  # a channel's own setting wins
    assert await places.is_active(CHANNEL, GUILD)
    assert await places.activation(CHANNEL, GUILD) == (True, False)

    assert not await places.switch_is_on("reactions", CHANNEL, GUILD, False)
    await places.set_switch("reactions", "guild", GUILD, True)
    assert await places.switch_is_on("reactions", CHANNEL, GUILD, False)
    await places.set_switch("reactions", "channel", CHANNEL, False)
    assert not await places.switch_is_on("reactions", CHANNEL, GUILD, True)
    await places.set_switch("reactions", "channel", CHANNEL, None)  # back to the server's
    assert await places.switch_is_on("reactions", CHANNEL, GUILD, False)


async def test_a_check_in_choice_is_kept(store: Store) -> None:
    choice = CheckInChoice(store.checkins)
    assert not await store.checkins.enabled(ALICE)
    await choice.choose(ALICE, "Alice", True)
    assert await store.checkins.enabled(ALICE)
    await choice.choose(ALICE, "Alice", False)
    assert not await store.checkins.enabled(ALICE)
