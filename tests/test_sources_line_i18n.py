"""The line of sources under a reply that searched the web is in the reply's language, over the wire (fake
Discord, fake Claude with its search tool: tests/fakes/claude_tools.py): a German or Japanese reply is not
followed by an English "Sources:". The history keeps the reply without that line, whatever its language; a
reply whose words tell no language surely has its line in the language of the message it answers."""

from __future__ import annotations

from tests.fakes.claude_server import Reply
from tests.fakes.claude_tools import Search
from tests.harness import MakeHarness, reply_requests

NEWS = [("https://news.example.com/storm", "Storm reaches the coast"),
        ("https://www.bbc.co.uk/news/markets", "Markets rally")]
FIGURES = [("https://news.example.com/storm", "24/7"), ("https://www.bbc.co.uk/news/markets", "2026")]
LINKS = "[news.example.com](<https://news.example.com/storm>) · [bbc.co.uk](<https://www.bbc.co.uk/news/markets>)"
# asked, answered, the line of sources, then a message that tells no language and the short answer to it
CASES = {
    "de": ("Was gibt es heute Neues in den Nachrichten?",
           "Heute ist draußen ziemlich viel los, ein Sturm erreicht gerade die Küste.",
           f"-# Quellen: {LINKS}",
           "Wow, erzähl mir bitte mehr darüber, was an der Küste passiert ist!", "Ok!"),
    "ja": ("今日のニュースで何か新しいことはありますか？",
           "今日はいろいろなことがありました。嵐が海岸に近づいているそうです。", f"-# 出典：{LINKS}",
           "すごい、海岸で何が起きているのかもっと詳しく教えてください！", "OK!"),
}


async def test_the_line_of_sources_is_in_the_replys_language(make_harness: MakeHarness) -> None:
    for language, (asked, answered, sources, more, short) in CASES.items():
        h = await make_harness(reminders_in_dms="false", web_search="dms")
        h.claude.script(Reply(tools=Search("news", NEWS, answer=answered, opening=answered)))
        sent = await h.dm(asked)
        channel = int(sent["channel_id"])
        [reply] = await h.replies(channel)
        assert reply["content"].splitlines()[-1] == sources, (language, reply["content"])
        assert "Sources:" not in reply["content"]
        await h.at_rest()
        # a reply that tells no language surely ("Ok!"): its line in the language of the message answered
        h.claude.script(Reply(tools=Search("more", FIGURES, answer=short, opening="")))
        await h.dm(more)
        second = (await h.replies(channel, 2))[-1]
        assert second["content"].splitlines()[-1] == sources, (language, second["content"])
        await h.at_rest()
        # what the next request reads back: the replies without their line of sources
        await h.dm(asked)
        await h.replies(channel, 3)
        said = h.claude.all_text(reply_requests(h)[-1])
        assert answered in said and sources.split(" ")[1] not in said, (language, said)
        await h.close()
