"""What an admin picks from and reads back about the character's memory of a person, in the admin's language
(the interaction's ``locale``), over the wire: the autocomplete labels of ``/identity edit`` (an entry's
kind), ``/memories edit`` (a memory's source) and ``/memories restore`` (a version's date, why it was
archived, its size), and ``/memories history``. Why a version was archived is stored in English (rows
already stored read the same); each reason is shown in the reader's language. English (en-US) is the
control; the operator's dashboard shows the same reasons in the page's language (tests/test_dashboard.py)."""

from __future__ import annotations

from bot.core.numbers import date_time
from bot.core.stages import conversation_scope
from bot.core.text import clip
from bot.operator.admin.language import CHOICE_NAME
from database.records import PRIVATE_SOURCE, Archived, VersionReason
from tests.harness import ADMIN_ID, CHANNEL_ID, USER_ID, Harness
from tests.test_admin_slash import complete, run

UID = str(USER_ID)
# Why each version was archived, newest first, as each language says it ({v} the restored version's id).
REASONS = {
    "en-US": ["before a memory was added (added by an admin)", "before version #{v} was restored",
              "before a deletion", "before an edit", "before a memory was added (added by an admin)",
              "when a private conversation was summarized",
              f"when the conversation in <#{CHANNEL_ID}> was summarized",
              "when the facts they drew on changed"],
    "de": ["bevor eine Erinnerung hinzukam (von einem Admin hinzugefügt)",
           "bevor Version #{v} wiederhergestellt wurde", "vor einer Löschung", "vor einer Änderung",
           "bevor eine Erinnerung hinzukam (von einem Admin hinzugefügt)",
           "als ein privates Gespräch zusammengefasst wurde",
           f"als das Gespräch in <#{CHANNEL_ID}> zusammengefasst wurde",
           "als sich die Fakten änderten, auf denen sie beruhten"],
    "ja": ["記憶が追加される前（管理者が追加）", "バージョン #{v} を復元する前", "削除の前", "編集の前",
           "記憶が追加される前（管理者が追加）", "非公開の会話を要約したとき",
           f"<#{CHANNEL_ID}> の会話を要約したとき", "もとになった事実が変わったとき"],
}
COUNTS = {"en-US": ("({n} memory)", "({n} memories)"), "de": ("({n} Erinnerung)", "({n} Erinnerungen)"),
          "ja": ("({n}件の記憶)", "({n}件の記憶)")}
SOURCES = {"en-US": "added by an admin", "de": "von einem Admin hinzugefügt", "ja": "管理者が追加"}
KINDS = {"en-US": "trait", "de": "Eigenschaft", "ja": "特徴"}
ENGLISH = ["before", "summarized", "memories", "memory)", "added by", "restored", "trait:"]


async def archive_one_of_each(h: Harness) -> int:
    """A version archived for every reason the bot stores (the summary passes' as the summarizer writes
    them, the admin's edits through the commands); the restored version's id."""
    await h.store.people.ensure_user(USER_ID, "alice")
    key = h.bot.services.pipeline.character_key
    memories = h.store.memories
    await memories.replace_core_memories(key, USER_ID, ["Alice mends nets."],
                                         reason=VersionReason(Archived.FACTS_CHANGED))
    await memories.replace_core_memories(
        key, USER_ID, ["Alice mends nets.", "Alice hums."],
        reason=VersionReason(Archived.SUMMARIZED, conversation_scope(False, False, CHANNEL_ID)))
    await memories.replace_core_memories(key, USER_ID, ["Alice fears the attic."], source=PRIVATE_SOURCE,
                                         reason=VersionReason(Archived.SUMMARIZED,
                                                              conversation_scope(True, False, 0)))
    assert "#" in await run(h, "memories", "add", user=UID, text="Alice keeps a pet crab named Sir Pinch.")
    [choice] = await complete(h, "memories", "edit", "memory", "pinch", user=UID)
    await run(h, "memories", "edit", user=UID, memory=int(choice["value"]), text="Alice keeps a crab.")
    [choice] = await complete(h, "memories", "delete", "memory", "crab", user=UID)
    await run(h, "memories", "delete", user=UID, memory=int(choice["value"]))
    versions = await memories.core_memory_versions(key, USER_ID)
    restored = versions[-1][0]  # the oldest
    await run(h, "memories", "restore", user=UID, version=restored)
    return restored


async def test_admin_choices_and_history_speak_the_admins_language(harness: Harness) -> None:
    h = harness
    restored = await archive_one_of_each(h)
    await run(h, "memories", "add", user=UID, text="Alice sings to her crab.")  # an admin's, in the list
    key = h.bot.services.pipeline.character_key
    versions = await h.store.memories.core_memory_versions(key, USER_ID)
    assert len(versions) == len(REASONS["en-US"])
    for locale, reasons in REASONS.items():
        h.discord.set_locale(ADMIN_ID, locale)
        language = locale.split("-")[0]
        reasons = [r.replace("{v}", str(restored)) for r in reasons]
        one, many = COUNTS[locale]

        labels = [c["name"] for c in await complete(h, "memories", "restore", "version", "", user=UID)]
        assert len(labels) == len(versions), labels
        for label, (vid, when, _, items), reason in zip(labels, versions, reasons, strict=True):
            size = (one if len(items) == 1 else many).format(n=len(items))
            # (a choice's label is one line within Discord's 100 characters: bot/core/text.py clip)
            assert label == clip(f"#{vid} {date_time(when, language)} UTC {reason} {size}", CHOICE_NAME)
        history = await run(h, "memories", "history", user=UID)
        for (vid, when, _, _), reason in zip(versions, reasons, strict=True):
            assert f"#{vid} {date_time(when, language)} UTC · {reason} · " in history, (reason, history)

        [memory] = [c["name"] for c in await complete(h, "memories", "edit", "memory", "sings", user=UID)]
        assert memory.endswith(f"({SOURCES[locale]}) Alice sings to her crab."), memory
        entries = await complete(h, "identity", "edit", "entry", "")
        assert any(f" {KINDS[locale]}: " in c["name"] for c in entries), entries
        if locale != "en-US":
            shown = "\n".join([*labels, history, memory, *(c["name"].split(":")[0] for c in entries)])
            assert [word for word in ENGLISH if word in shown] == [], shown
