"""/forget_me covers every table that holds a person's words or ids.

The models are walked: every table is classified in database/privacy.py (where a person's id sits, the
server's own record, or nothing about anyone; a feature's own table says which in its info), so a new table
cannot be forgotten silently. Over the wire: a person's poll (question, options, votes) and ticket (topic,
transcript) are gone after /forget_me."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, Table, select

import database.store  # noqa: F401  (imports every model module: the whole schema is on Base)
from bot.features.polls import Poll, PollVote
from database.models import ArchivedMessage, Base, LoggedMessage
from database.privacy import (
    IN_KEYS,
    NOTHING,
    PERSON,
    SERVER_RECORDS,
    THROUGH_PARENT,
    nothing_personal,
    person_columns,
)
from database.server_models import Ticket, TicketMessage
from tests.harness import ADMIN_ID, LOG_CHANNEL_ID, USER2_ID, USER_ID, Harness
from tests.server_support import opts
from tests.test_admin_log_channel import admin_says, log_posts, wait_until
from tests.test_forget_in_flight import tables_saying
from tests.test_memory_commands import forget
from tests.test_polls import results, start_poll, vote
from tests.test_tickets import setup_staff, threads, ticket

# Column names that say "this is a person": any table holding one is theirs or the server's record.
PERSON_NAMES = {"user_id", "author_id", "opener_id", "closed_by", "target_id", "moderator_id"}


def misclassified() -> list[str]:
    """What is wrong with the tables' classification: a table in none of the groups or in two, a group
    naming a table that is gone."""
    # the features' own tables declare theirs, in their info
    groups = [set(person_columns()), set(THROUGH_PARENT), set(SERVER_RECORDS), set(nothing_personal()),
              set(IN_KEYS)]
    tables = set(Base.metadata.tables)
    wrong = [f"table {table} must be classified in database/privacy.py (or its info) exactly once"
             for table in sorted(tables) if sum(table in g for g in groups) != 1]
    gone = sorted(set().union(*groups) - tables)
    return wrong + [f"{name} is classified but no longer exists" for name in gone]


def test_every_table_is_classified_once() -> None:
    assert misclassified() == []


@pytest.mark.parametrize("info", [{}, {NOTHING: "counts per server"}, {PERSON: ("user_id",)},
                                  {NOTHING: "counts", PERSON: ("user_id",)}])
def test_a_feature_s_own_table_classifies_itself(info: dict[str, object]) -> None:
    """A feature's table (bot/features/polls/tables.py) says in its info whose rows it holds, or that it
    holds no one's: nothing in database/privacy.py is edited for it. One that says neither, or both, is
    found."""
    planted = Table("planted_feature_table", Base.metadata, Column("id", Integer, primary_key=True),
                    Column("user_id", Integer), info=info)
    try:
        wrong = [w for w in misclassified() if "planted_feature_table" in w]
        assert (wrong == []) is (len(info) == 1), wrong
    finally:
        Base.metadata.remove(planted)
    assert misclassified() == []


def test_every_column_naming_a_person_is_covered() -> None:
    for name, table in Base.metadata.tables.items():
        for column in person_columns().get(name, ()):
            assert column in table.c, f"{name}.{column} does not exist"
        if name in SERVER_RECORDS:
            continue
        people = {c.name for c in table.c if c.name in PERSON_NAMES or c.name.endswith("_users")}
        assert people <= set(person_columns().get(name, ())), (
            f"{name} holds {sorted(people)}: add them to PERSON_COLUMNS, or its info (or classify the table)")
        if name in THROUGH_PARENT:
            parents = {fk.column.table.name for fk in table.foreign_keys}
            assert THROUGH_PARENT[name] in parents and THROUGH_PARENT[name] in person_columns()


async def test_forget_me_deletes_their_polls_votes_and_tickets(harness: Harness) -> None:
    h = harness
    staff = await setup_staff(h)
    await ticket(h, "setup", user=ADMIN_ID, staff_role=("role", staff))
    mine = await start_poll(h, "Secret crush?", "Nemo | Dory")
    await vote(h, mine, 0, USER_ID)
    await vote(h, mine, 1, USER2_ID)  # bob's vote in alice's poll goes with her poll
    theirs = await h.slash("poll", opts(question="Lunch?", options="Kelp | Krill"), user=USER2_ID)
    bobs = await theirs.message()
    await vote(h, bobs, 1, USER_ID)  # alice's vote in bob's poll goes; bob's poll stays
    await ticket(h, "open", topic="my private trouble")
    [thread] = threads(h)
    await h.discord.user_message(int(thread["id"]), USER_ID, "it is embarrassing")
    [row] = await h.store.tickets.open_for(h.guild_id, USER_ID)
    assert await h.store.privacy.rows_about_user(USER_ID) != {}

    await forget(h)

    assert await h.store.privacy.rows_about_user(USER_ID) == {}
    polls = await h.store.db.rows(select(Poll.question, Poll.author_id))
    assert [(p.question, p.author_id) for p in polls] == [("Lunch?", USER2_ID)]
    assert [v.user_id for v in await h.store.db.rows(select(PollVote.user_id))] == []
    assert await h.store.db.rows(select(Ticket.topic)) == []
    assert await h.store.db.rows(select(TicketMessage.content)) == []


async def test_the_bots_posts_quoting_a_person_go_with_them(harness: Harness) -> None:
    """Issue 49, item 2: the verbose log-channel mirror is never logged as conversation; the bot's posts made
    on a person's behalf (their poll and its results, their ticket's opening message) are theirs, in the log
    and, once consolidated, in the archive: the proof finds them and /forget_me deletes them."""
    h = harness
    staff = await setup_staff(h)
    await ticket(h, "setup", user=ADMIN_ID, staff_role=("role", staff))
    await h.store.servers.update(h.guild_id, reply_mode="auto")
    assert "Verbose mode is **on**" in (await admin_says(h, "verbose", 1))["content"]
    h.claude.script("no", model="claude-test-voter", times=3)
    await h.say("my home address is 12 Kelp Lane")
    await wait_until(h, lambda: [t for t in log_posts(h) if "12 Kelp Lane" in t], "the mirrored line")
    poll = await start_poll(h, "Secret crush?", "Nemo | Dory", "3s")
    await ticket(h, "open", topic="my private trouble")
    await h.discord.wait_for(lambda d: results(h), what="the poll results")
    await h.bot.mirror.drain()
    await h.at_rest()
    logged = await h.store.db.rows(select(LoggedMessage.channel_id, LoggedMessage.author_id,
                                          LoggedMessage.content))
    assert not [m for m in logged if m.channel_id == LOG_CHANNEL_ID]  # the log channel is not conversation
    bots = [m.content for m in logged if m.author_id == h.bot_user_id]
    for said in ("Secret crush?", "my private trouble"):
        assert any(said in c for c in bots), (said, bots)
    # Consolidation archives the bot's lines for good: still theirs.
    consolidation = h.store.consolidation
    ids = [i for i, _ in await consolidation.logged_through(await consolidation.log_watermark())]
    assert await h.store.consolidation.archive_logged(ids) == len(ids)
    before = await h.store.privacy.rows_about_user(USER_ID)
    assert before["posted_for"] == 3 and before["message_archive"] >= 3  # the poll, its results, the opening

    await forget(h)

    assert await h.store.privacy.rows_about_user(USER_ID) == {}
    for said in ("12 Kelp Lane", "Secret crush?", "my private trouble"):
        assert await tables_saying(h, said) == {}, said
    archived = await h.store.db.rows(select(ArchivedMessage.message_id))
    assert int(poll["id"]) not in {m.message_id for m in archived}
