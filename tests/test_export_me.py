"""/export_me: a person's own data returned to them as a JSON file, over the wire; every table
database/privacy.py says holds a person's id is exported or left out with a reason (a new one fails here);
nothing of another person is in it; one export per person every few minutes; the file's own descriptions
are in the requester's language."""

from __future__ import annotations

import gzip
import json
import threading
from typing import Any

import pytest

import database.store  # noqa: F401  (imports every model module: the whole schema is on Base)
from database.export import EXPORTED_THROUGH, NOT_EXPORTED, OTHER_COLUMNS, exported
from database.privacy import THROUGH_PARENT, person_columns
from memory.export import LEFT_OUT_BECAUSE
from tests.harness import CHANNEL_ID, EPHEMERAL, USER2_ID, USER_ID, Harness, ephemeral
from tests.server_support import opts
from tests.test_memory_commands import logged_from


def test_every_person_keyed_table_is_exported_or_left_out_with_a_reason() -> None:
    people, export = person_columns(), exported()  # with what the features' own tables declare
    person_keyed = set(people) | set(THROUGH_PARENT)  # what /forget_me deletes
    assert person_keyed == set(export) | set(EXPORTED_THROUGH) | set(NOT_EXPORTED), (
        "classify the table in database/export.py: EXPORTED (by the column making a row theirs), "
        "EXPORTED_THROUGH, or NOT_EXPORTED with the reason")
    assert not set(export) & set(NOT_EXPORTED) and all(NOT_EXPORTED.values())
    assert EXPORTED_THROUGH == THROUGH_PARENT
    for table, columns in people.items():
        for column in columns:
            if table in NOT_EXPORTED or export.get(table) == column:
                continue
            assert OTHER_COLUMNS.get((table, column)), (
                f"{table}.{column} names a person: say in database/export.py OTHER_COLUMNS why its rows are "
                "not that person's, or export the table by it")
    # Each reason is a code here (the data layer reads no catalogs): the file says it in the person's words.
    assert set(NOT_EXPORTED.values()) | set(OTHER_COLUMNS.values()) <= set(LEFT_OUT_BECAUSE), (
        "word the reason's code in memory/export.py LEFT_OUT_BECAUSE")


async def me_set(h: Harness, user: int, **options: Any) -> None:
    ix = await h.slash("me", [{"type": 1, "name": "set", "options": opts(**options)}], user=user)
    await ephemeral(ix)


async def export(h: Harness, user: int) -> dict[str, Any]:
    """/export_me's answer: the message the caller alone sees."""
    return await ephemeral(await h.slash("export_me", user=user))


def everything_in(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False)


async def test_export_me_sends_their_data_and_none_of_anyone_elses(harness: Harness) -> None:
    h = harness
    key = h.bot.services.pipeline.character_key
    # Alice chats in the channel and in her DMs and sets /me; Bob does the same, with words of his own.
    await h.say("alice says the tide is high", mention=True)
    await h.replies(CHANNEL_ID, 1)
    await h.dm("alice's secret: I collect sea glass")
    alice_dm = await h.dm_channel_id(USER_ID)
    await h.replies(alice_dm, 1)
    await me_set(h, USER_ID, name="Ally", pronouns="she/her", about="I sail on Sundays")
    await h.say("bob says the krill are late", user=USER2_ID, mention=True)
    await h.replies(CHANNEL_ID, 2)
    await h.dm("bob's secret: I fear crabs", user=USER2_ID)
    bob_dm = await h.dm_channel_id(USER2_ID)
    await h.replies(bob_dm, 1)
    await me_set(h, USER2_ID, name="Bobbo", pronouns="he/him", about="I build boats")
    await logged_from(h, alice_dm, USER_ID, 1)
    await logged_from(h, bob_dm, USER2_ID, 1)
    await h.bot.in_flight.drain()
    await h.store.facts.add(USER_ID, "Alice collects sea glass", category="hobbies")
    await h.store.facts.add(USER2_ID, "Bob fears crabs", category="other")
    # Alice's own note quoting Bob ("Remember this" on his message) is Bob's words: not in her export.
    await h.store.memories.add_core_memory(key, USER_ID, "Bob said: the krill are late",
                                           quoted_user_id=USER2_ID)
    await h.store.memories.add_core_memory(key, USER_ID, "Alice likes kelp")

    message = await export(h, USER_ID)
    assert message["flags"] & EPHEMERAL and " records of " in message["content"]
    [attachment] = message["attachments"]
    assert attachment["filename"].endswith("-your-data.json")
    document = json.loads(attachment["_data"])
    tables = document["tables"]
    assert document["user_id"] == str(USER_ID)
    assert tables["person_profiles"][0]["name"] == "Ally" and tables["person_profiles"][0]["about"] == (
        "I sail on Sundays")
    [user] = tables["users"]
    assert "memory_consent" in user and "memory_everywhere" in user  # their consent state
    assert [f["fact"] for f in tables["user_facts"]] == ["Alice collects sea glass"]
    assert "Alice likes kelp" in [m["content"] for m in tables["core_memories"]]
    said = [m["content"] for m in tables["message_log"] + tables.get("message_archive", [])]
    assert any("the tide is high" in s for s in said) and any("sea glass" in s for s in said)
    assert any(m["author_id"] != str(USER_ID) for m in tables["message_log"])  # the answers in her DMs
    assert {"conversations", "history_messages", "api_calls", "nicknames"} <= set(tables)
    assert all("embedding" not in row for rows in tables.values() for row in rows)
    text = everything_in(document)
    for bobs in ("krill", "crabs", "Bobbo", "I build boats", "Bob fears", str(USER2_ID), str(bob_dm)):
        assert bobs not in text, bobs

    # Once per few minutes: a second ask is one line, no file.
    again = await export(h, USER_ID)
    assert "again in 5 minutes" in again["content"] and not again["attachments"]
    # Bob's own export is his, not limited by Alice's.
    bob = json.loads((await export(h, USER2_ID))["attachments"][0]["_data"])
    assert bob["tables"]["person_profiles"][0]["name"] == "Bobbo" and "sea glass" not in everything_in(bob)


async def test_an_export_past_the_upload_limit_comes_gzipped(harness: Harness,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Discord refuses a file over its upload limit (the fake too): a larger export is sent gzipped."""
    import memory.export

    h = harness
    monkeypatch.setattr(memory.export, "UPLOAD_LIMIT", memory.export.UPLOAD_MARGIN + 200)
    await h.store.people.ensure_user(USER_ID, "alice")
    await h.store.facts.add(USER_ID, "Alice collects sea glass " * 20, category="hobbies")
    [attachment] = (await export(h, USER_ID))["attachments"]
    assert attachment["filename"].endswith("-your-data.json.gz")
    document = json.loads(gzip.decompress(bytes(attachment["_data"])))
    assert "Alice collects sea glass" in document["tables"]["user_facts"][0]["fact"]


async def test_the_file_is_made_off_the_event_loop(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """A long-known person's rows run to tens of megabytes: turned into JSON in a worker thread, so a large
    export does not hold up everyone else's replies."""
    import memory.export

    h = harness
    made_in: list[int] = []
    real = memory.export.encode

    def spy(*args: Any) -> tuple[bytes, bool]:
        made_in.append(threading.get_ident())
        return real(*args)

    monkeypatch.setattr(memory.export, "encode", spy)
    await h.store.people.ensure_user(USER_ID, "alice")
    await h.store.facts.add(USER_ID, "Alice collects sea glass", category="hobbies")
    [attachment] = (await export(h, USER_ID))["attachments"]
    assert "sea glass" in everything_in(json.loads(attachment["_data"]))
    assert made_in and threading.get_ident() not in made_in


async def test_export_me_of_someone_never_seen_says_so(harness: Harness) -> None:
    message = await export(harness, USER2_ID)
    assert "nothing stored about you" in message["content"] and not message["attachments"]


async def test_the_files_descriptions_are_in_the_requesters_language(harness: Harness) -> None:
    """What the file holds and why something is not in it are read by the person: said in their client's
    language (a command it names as their client names it); the keys and the rows stay as stored."""
    h = harness
    for user, name in ((USER_ID, "alice"), (USER2_ID, "bob")):
        await h.store.people.ensure_user(user, name)
        await h.store.facts.add(user, f"{name} keeps bees", category="hobbies")
    h.discord.set_locale(USER_ID, "de")
    h.discord.set_locale(USER2_ID, "ja")
    german = json.loads((await export(h, USER_ID))["attachments"][0]["_data"])
    japanese = json.loads((await export(h, USER2_ID))["attachments"][0]["_data"])
    assert german["what"] == "alles, was Finn über dich gespeichert hat (was /vergiss_mich löscht)"
    assert german["left_out"] == {
        "core_memories.quoted_user_id": "die Notiz einer anderen Person, die dich zitiert („Merk dir das“): "
                                        "ihre Erinnerung",
        "tickets.closed_by": "ein Ticket, das jemand anderes geöffnet und du als Team geschlossen hast: es "
                             "gehört der Person, die es geöffnet hat",
        "embeddings": "die Vektoren, mit denen die Erinnerung Bedeutungen vergleicht: Zahlen, nichts "
                      "Lesbares",
    }
    assert japanese["what"] == "Finnがあなたについて保存しているすべて（/私を忘れて で削除されるもの）"
    assert japanese["left_out"] == {
        "core_memories.quoted_user_id": "あなたを引用した別の人のメモ（「これを覚えて」）：その人の記憶",
        "tickets.closed_by": "ほかの人が作成し、あなたがスタッフとして閉じたチケット：作成した人のもの",
        "embeddings": "記憶の呼び出しで意味を比べるためのベクトル：数値だけで、読める内容はありません",
    }
    for document, fact in ((german, "alice keeps bees"), (japanese, "bob keeps bees")):
        assert set(document) == {"what", "user_id", "made_at", "tables", "left_out"}  # the same keys
        assert [f["fact"] for f in document["tables"]["user_facts"]] == [fact]  # the rows as stored
