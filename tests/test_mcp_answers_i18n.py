"""``/bot mcp add|allow|list|remove`` answer a server admin in the language of their Discord client (the
interaction's ``locale``), over the wire: the real discord.py client against the fake Discord, a fake MCP
server (tests/fakes/mcp_server.py) to add. The tools' and servers' names stay as they are; the lists of them
are joined as the admin's language lists things."""

from __future__ import annotations

from tests.fakes.mcp_server import FakeMcp
from tests.harness import OWNER_ID, Harness
from tests.test_mcp_tools import admin, fake_mcp, world  # noqa: F401,F811  (fixtures)

# What each answer says, in the admin's language (a command it names as the admin's client shows it):
# added, allowed here, allowed, none allowed, removed, no such server, none added
SAID = {
    "de": ("MCP-Server **weather** hinzugefügt.", "Hier erlaubt: `forecast`",
           "Erlaubte Werkzeuge von **weather** hier: `forecast` und `diary`",
           "Kein Werkzeug von **weather** ist hier jetzt erlaubt.",
           "MCP-Server **weather** entfernt: Seine Werkzeuge werden hier nicht mehr angeboten.",
           "Hier gibt es keinen MCP-Server namens weather (/",
           "Hier wurden keine MCP-Server hinzugefügt (/"),
    "ja": ("MCPサーバー **weather** を追加しました。", "ここで許可：`forecast`",
           "ここで許可されている **weather** のツール：`forecast`、`diary`",
           "今は **weather** のツールはここで一つも許可されていません。",
           "MCPサーバー **weather** を削除しました。そのツールはここではもう使えません。",
           "ここには weather という名前のMCPサーバーはありません（/",
           "ここにはMCPサーバーが追加されていません（/"),
}
ENGLISH = ["Added the MCP server", "Its tools", "Allowed here", "Allowed tools of", "is allowed here now",
           "Removed the MCP server", "There is no MCP server", "No MCP servers were added", " and "]


async def test_the_mcp_commands_answer_in_the_admins_language(
        world: Harness, fake_mcp: FakeMcp) -> None:  # noqa: F811  (the fixtures)
    h = world
    for locale, (added, allowed_here, allowed, none_allowed, removed, unknown, empty) in SAID.items():
        h.discord.set_locale(OWNER_ID, locale)
        answers = [await admin(h, "add", name="weather", url=fake_mcp.url, tools="forecast")]
        assert answers[0].startswith(added) and allowed_here in answers[0], answers[0]
        answers.append(await admin(h, "allow", name="weather", tools="forecast, diary"))
        assert answers[-1] == allowed, answers[-1]
        answers.append(await admin(h, "list"))
        assert answers[-1].startswith("**weather** <") and "`forecast`" in answers[-1], answers[-1]
        answers.append(await admin(h, "allow", name="weather", tools=""))
        assert answers[-1] == none_allowed, answers[-1]
        answers.append(await admin(h, "remove", name="weather"))
        assert answers[-1] == removed, answers[-1]
        answers.append(await admin(h, "remove", name="weather"))
        assert answers[-1].startswith(unknown), answers[-1]
        answers.append(await admin(h, "list"))
        assert answers[-1].startswith(empty), answers[-1]
        left = [(a, e) for a in answers for e in ENGLISH if e in a]
        assert left == [], left
