"""Lore where the card places it (issue 44, item 6), proven by the request the fake Claude receives: a
constant entry after the character in the cached system block, at-depth entries as fenced data at their depth
of the chat, after the history's breakpoint (depth 0 after the message), the author's note's bottom after
the character's note."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bot.core.persona.cards import read_card
from tests.fakes.claude_server import FakeClaude, content_text
from tests.harness import Harness, reply_requests
from tests.memory_support import last_user_text
from tests.test_greetings import LUMEN, lumen_folder

Make = Callable[..., Awaitable[Harness]]
NEAR = "The lamp room smells of brass polish and sea salt."
DEEP = "Ships' bells carry far in fog: Lumen counts them aloud."
LAST = "When fog is mentioned, Lumen lowers its light to amber."
NOTE = "Fog talk: keep it short and calm."


def entry(content: str, keys: list[str], **ext: Any) -> dict[str, Any]:
    return {"keys": keys, "content": content, "enabled": True, "insertion_order": 50, "priority": 50,
            "constant": not keys, "selective": False, "secondary_keys": [], "case_sensitive": False,
            "position": "after_char" if ext.get("position") == 1 else "before_char", "extensions": ext}


async def test_lore_goes_where_its_position_says(make_harness: Make, tmp_path: Path) -> None:
    book = dict(read_card(LUMEN / "card.png").data["character_book"])
    book["entries"] = [*book["entries"],
                       entry(NEAR, [], position=1),
                       entry(DEEP, ["fog"], position=4, depth=2, role=0),
                       entry(LAST, ["fog"], position=4, depth=0, role=1),
                       entry(NOTE, ["fog"], position=3)]
    h = await make_harness(character_dir=lumen_folder(tmp_path, character_book=book), greetings="true")
    h.claude.script("The light turns.", model="claude-test-default", times=None)
    sent = await h.dm("Good evening, lamp. How is the sea?")
    channel = int(sent["channel_id"])
    await h.replies(channel, 2)  # the greeting, the answer
    await h.dm("Is there fog over the Narrows tonight?")
    await h.replies(channel, 3)
    request = reply_requests(h)[-1]
    system = FakeClaude.system_text(request)
    # Constant entries beside the character: in the cached character block, after_char after the rest of it.
    assert f'<world position="after_char">\n{NEAR}\n</world>' in system
    assert system.index("<world>") < system.index("Its lens turns") < system.index(NEAR)
    # At-depth lore where SillyTavern puts it: depth 2 before the second message from the end (the last
    # answer, so at the end of the user turn before it), after the history's breakpoint; depth 0 after
    # the message. Never in system.
    messages = request.body["messages"]
    deep = f'<lore depth="2" role="system">\n{DEEP}\n</lore>'
    holder = next(i for i, m in enumerate(messages) if deep in content_text(m["content"]))
    assert messages[holder]["role"] == "user" and [m["role"] for m in messages[holder + 1:]] == [
        "assistant", "user"]
    blocks = messages[holder]["content"]
    at = next(i for i, b in enumerate(blocks) if b["text"] == deep)
    assert at == len(blocks) - 1 and "cache_control" in blocks[at - 1]  # the cache ends just before it
    assert DEEP not in system and LAST not in content_text(messages[holder]["content"])
    final = last_user_text(request.body)
    asked = final.index("Is there fog over the Narrows tonight?")
    assert DEEP not in final
    assert final.index(f'<lore depth="0" role="user">\n{LAST}\n</lore>') > asked  # depth 0: after it
    bottom = final.index(f'<lore position="an_bottom">\n{NOTE}\n</lore>')
    assert asked < bottom < final.index("[Instructions]")  # with the notes after the history
    # The first reply (no fog yet) had none of it.
    first = reply_requests(h)[0]
    assert DEEP not in FakeClaude.all_text(first) and NOTE not in FakeClaude.all_text(first)
