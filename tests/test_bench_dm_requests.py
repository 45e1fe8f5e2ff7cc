"""benchmarks/bench_dm_requests.py's split of a reply request: each fenced part under its name, a pinned note
apart from the turn it opens, an unknown tag under its own name, and recalled lines already in the request
counted as redundant."""

from __future__ import annotations

from benchmarks.bench_dm_requests import breakdown
from bot.core.tokens import count_tokens

MEMORIES = '<memories about="alice">\n- alice has a dog called Biscuit.\n</memories>'
OPENING = (f'[Where: a private direct message with alice]\n<person name="alice">\n{MEMORIES}\n'
           "<summary>\nWe talked about her exam.\n</summary>\n</person>")
RECALL = ('<recalled_facts about="alice" use="where it fits, never recited">\n23 November 2026:\n'
          "- alice lives in Leeds.\n\n[Words from your earlier conversations with alice, quoted]\n"
          '23 November 2026:\n- alice: "I live in Leeds, near Hyde Park"\n- Finn: "Glub, the tide is out"\n'
          "</recalled_facts>")
FINAL = (f"<now>Tuesday.</now>\n\n{RECALL}\n\n<open_threads about=\"alice\">\n- the exam (due Friday)\n"
         "</open_threads>\n\n<glimmer>new part</glimmer>\n\nalice: what should I bring?")


def test_a_request_is_split_by_its_fences_and_redundant_recall_is_counted() -> None:
    body = {"system": [{"type": "text", "text": "You are Finn."}],
            "messages": [{"role": "user", "content": [
                {"type": "text", "text": OPENING},
                {"type": "text", "text": "You feel sleepy.\n\nI live in Leeds, near Hyde Park"}]},
                         {"role": "assistant", "content": "Lovely!"},
                         {"role": "user", "content": FINAL}]}
    out = breakdown(body, {"I live in Leeds, near Hyde Park", "what should I bring?"})
    parts = out["parts"]
    assert parts["system"] == count_tokens("You are Finn.")
    assert parts["core memories"] == count_tokens(MEMORIES)
    assert parts["summary"] == count_tokens("<summary>\nWe talked about her exam.\n</summary>")
    assert parts["notes/pins"] == count_tokens("You feel sleepy.\n\n")
    assert parts["history"] == (count_tokens("I live in Leeds, near Hyde Park") + count_tokens("Lovely!")
                                + count_tokens("\n\nalice: what should I bring?"))
    assert parts["excerpts"] > 0 and parts["facts/recall"] > 0 and parts["open threads"] > 0
    assert parts["glimmer"] == count_tokens("<glimmer>new part</glimmer>") and parts["now"] > 0
    assert out["total"] == sum(parts.values()) and out["recalled_lines"] == 3
    # alice's quoted line is in the history; the fact and Finn's line are not
    assert out["redundant"] == count_tokens('- alice: "I live in Leeds, near Hyde Park"')


def test_the_shipped_layout_puts_the_message_first_and_its_fences_after() -> None:
    """The message cached first, then the turn's fences, then the variety note: only the message is
    history, the recall after it is recall, the note is other."""
    note = "[Your recent replies here opened with \"Glub\": vary your wording.]"
    final = f"what should I bring?\n\n<now>Tuesday.</now>\n\n{RECALL}\n\n{note}"
    body = {"system": "You are Finn.",
            "messages": [{"role": "user", "content": "I live in Leeds, near Hyde Park"},
                         {"role": "assistant", "content": "Lovely!"},
                         {"role": "user", "content": final}]}
    out = breakdown(body, {"I live in Leeds, near Hyde Park", "what should I bring?"})
    parts = out["parts"]
    assert parts["history"] == (count_tokens("I live in Leeds, near Hyde Park") + count_tokens("Lovely!")
                                + count_tokens("what should I bring?\n\n"))
    assert parts["other"] == count_tokens("\n\n" + note) + count_tokens("\n\n")  # the note, a blank line
    assert parts["now"] == count_tokens("<now>Tuesday.</now>")
    assert parts["facts/recall"] > 0 and parts["excerpts"] > 0 and out["total"] == sum(parts.values())
    assert out["recalled_lines"] == 3  # recalled, not said: the message is history, the recall is not
    assert out["redundant"] == count_tokens('- alice: "I live in Leeds, near Hyde Park"')
