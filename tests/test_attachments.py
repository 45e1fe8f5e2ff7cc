"""What a message carried, as the conversation notes it (bot/core/attachments.py), and the prompt builder's
repair of blank turns already stored (issue 19). Pure logic; the wire tests are in test_e2e_empty_turns.py."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.core.attachments import (
    NO_TEXT,
    NOTHING,
    Attachment,
    Carried,
    Embed,
    attachment_kind,
    describe,
    message_text,
)
from bot.reply.prompting import Incoming, history_messages
from bot.reply.transcript import NEW_CHAT
from database.records import History, Turn
from tests.place_support import place


@pytest.mark.parametrize(("filename", "content_type", "kind"), [
    ("cat.png", "image/png", "image"),
    ("photo", "image/jpeg", "image"),  # the content type decides when there is one
    ("IMG_0001.JPEG", None, "image"),  # else the extension, in any case
    ("voice-message.ogg", "audio/ogg", "audio"),
    ("song.mp3", None, "audio"),
    ("clip.mp4", "video/mp4", "video"),
    ("notes.pdf", "application/pdf", "file"),
    ("archive.tar.gz", None, "file"),
    ("README", None, "file"),
    ("png", None, "file"),  # a bare word is not an extension
])
def test_attachment_kind(filename: str, content_type: str | None, kind: str) -> None:
    assert attachment_kind(filename, content_type) == kind


def test_describe_each_thing_a_message_can_carry() -> None:
    assert describe(NOTHING) == "" and not NOTHING
    assert describe(Carried(attachments=(Attachment("cat.png", "image/png"),))) == "[image: cat.png]"
    assert describe(Carried(stickers=("wave",))) == "[sticker: wave]"
    assert describe(Carried(embeds=(Embed("Patch notes"), Embed(url="https://x.example"), Embed()))) == \
        "[embed: Patch notes] [link] [embed]"
    assert describe(Carried(poll="Tea or coffee?")) == "[poll: Tea or coffee?]"
    assert describe(Carried(forwarded="", attachments=(Attachment("a.wav"), Attachment("b.bin")))) == \
        "[forwarded message] [audio: a.wav] [file: b.bin]"
    assert describe(Carried(forwarded="meet at\nthe [pier]")) == "[forwarded message: meet at the (pier)]"
    assert describe(Carried(panel="Ticket #1 · Topic [urgent]\nhelp")) == \
        "[panel: Ticket #1 · Topic (urgent) help]"
    assert describe(Carried(panel="")) == "[panel]" and len(describe(Carried(panel="x" * 5000))) < 420


def test_labels_stay_one_short_line_that_cannot_close_the_note_early() -> None:
    note = describe(Carried(attachments=(Attachment("my\nholiday ] pics.png"),), stickers=("x" * 200,)))
    first, second = note.split("] [", 1)
    assert first == "[image: my holiday ) pics.png"
    assert len(second) < 100 and second.endswith("…]") and "\n" not in note


def test_message_text_is_the_text_then_the_notes() -> None:
    image = Carried(attachments=(Attachment("cat.png", "image/png"),))
    assert message_text("hello", NOTHING) == "hello"
    assert message_text("  look  ", image) == "look [image: cat.png]"
    assert message_text("", image) == "[image: cat.png]"
    assert message_text(" \n", image) == "[image: cat.png]"
    assert message_text("", NOTHING) == "" and message_text("  ", NOTHING) == ""


def incoming(content: str, carried: Carried = NOTHING) -> Incoming:
    return Incoming(message_id=1, author_id=3, author_name="alice", content=content,
                    created_at=datetime.now(UTC), place=place(2, True), carried=carried)


def test_incoming_text_is_never_blank_and_content_stays_what_was_typed() -> None:
    msg = incoming("@Finn", Carried(stickers=("wave",)))
    assert msg.content == "@Finn"  # what addressing reads: a file named finn.png must not address Finn
    assert msg.said == msg.text == "@Finn [sticker: wave]"
    empty = incoming("")
    assert empty.said == "" and empty.text == NO_TEXT


def turns(*pairs: tuple[str, str]) -> History:
    return History(1, "", [Turn(role, content, i) for i, (role, content) in enumerate(pairs)])


def test_history_repairs_blank_user_turns_and_leaves_out_blank_answers() -> None:
    messages = history_messages(turns(("user", ""), ("assistant", "Hi!"), ("user", " \n\t"),
                                      ("assistant", ""), ("user", "still there?"), ("assistant", "  ")))
    assert messages == [{"role": "user", "content": NO_TEXT}, {"role": "assistant", "content": "Hi!"},
                        {"role": "user", "content": f"{NO_TEXT}\n\nstill there?"}]


def test_a_blank_first_answer_leaves_a_history_that_still_starts_with_a_user_turn() -> None:
    # a greeting first opens the chat (bot/reply/transcript.py NEW_CHAT); the blank answer goes
    assert history_messages(turns(("assistant", ""), ("assistant", "Hello."), ("user", "hi"))) == \
        [{"role": "user", "content": NEW_CHAT}, {"role": "assistant", "content": "Hello."},
         {"role": "user", "content": "hi"}]
    assert history_messages(turns(("user", ""), ("assistant", " "))) == [{"role": "user", "content": NO_TEXT}]
    assert history_messages(turns(("user", "hi"), ("assistant", ""), ("assistant", "Hello.")),
                            drop_last_assistant=True) == [{"role": "user", "content": "hi"}]
