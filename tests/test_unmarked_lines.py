"""No line a person reads is written out in English where Discord shows it: the text handed to what
posts, answers or draws on Discord (a message's content, an embed's title, fields and footer, a button's or
a text input's label, a panel's text, a thread's name) is a marked line (``t``, ``tn``, ``N_``: a catalog
has it in every language), or a value, never a literal with words in it.

Read from the code (its syntax tree), in the modules that talk to people: ``cogs/``, ``bot/discord/`` and
``bot/features/``. What stays English by design is listed with its reason (docs/languages.md, "Not
translated here"): the operator's log channel, Discord's audit log (a ``reason=``), command names and
descriptions (their own ``commands`` catalogs, read by the tree's translator), and an exception's
message that no one reads. A literal reaching Discord through a variable is not seen here: the
over-the-wire tests in several languages (tests/test_every_language.py and the ``*_i18n`` files) read
what is sent."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("cogs", "bot/discord", "bot/features")
# Calls that show their text to a person, and the keywords that carry it.
SHOWN_BY = {
    "send", "send_message", "edit_message", "edit_original_response", "followup", "reply", "tell",
    "send_long", "Embed", "add_field", "set_field_at", "insert_field_at", "set_footer", "set_author",
    "Button", "TextInput", "Modal", "SelectOption", "Select", "TextDisplay", "create_thread",
}
TEXT_KEYWORDS = {"content", "title", "description", "name", "value", "text", "label", "placeholder"}
MARKED = {"t", "tn", "N_", "sentences", "listed"}
# English by design, with the reason (docs/languages.md): a whole module, or one line of one by its text.
ENGLISH_BY_DESIGN = {
    "bot/discord/logchannel.py": "the operator's log channel: its admin commands and reports",
    "cogs/server_settings.py: 'tickets'": "a setting's name, as /settings show names every other by its key",
}


def literal_words(node: ast.expr) -> list[ast.expr]:
    """The literals with letters in them that ``node`` would show as they are (a marked call is none)."""
    if isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if name in MARKED:
            return []
        if name in ("join", "format") and isinstance(func, ast.Attribute):
            return [*literal_words(func.value), *(x for a in node.args for x in literal_words(a))]
        return []
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node] if any(c.isalpha() for c in node.value) else []
    if isinstance(node, ast.JoinedStr):
        own = any(isinstance(v, ast.Constant) and any(c.isalpha() for c in str(v.value))
                  for v in node.values)
        inner = [x for v in node.values if isinstance(v, ast.FormattedValue) for x in literal_words(v.value)]
        return ([node] if own else []) + inner
    if isinstance(node, ast.BinOp):
        return [*literal_words(node.left), *literal_words(node.right)]
    if isinstance(node, ast.IfExp):
        return [*literal_words(node.body), *literal_words(node.orelse)]
    if isinstance(node, ast.BoolOp):
        return [x for v in node.values for x in literal_words(v)]
    return []


def unmarked(source: str, where: str) -> list[str]:
    """Each literal of ``source`` shown to a person unmarked, as "where:line: text"."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if name not in SHOWN_BY:
            continue
        shown = [*node.args, *(k.value for k in node.keywords if k.arg in TEXT_KEYWORDS)]
        for value in shown:
            found += [f"{where}:{n.lineno}: {ast.unparse(n)[:90]}" for n in literal_words(value)]
    return found


def test_no_line_a_person_reads_is_written_out_in_english() -> None:
    found = []
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            where = path.relative_to(ROOT).as_posix()
            if where not in ENGLISH_BY_DESIGN:
                found += [line for line in unmarked(path.read_text(encoding="utf-8"), where)
                          if f"{where}: {line.split(': ', 1)[1]}" not in ENGLISH_BY_DESIGN]
    assert found == [], (
        "a line a person reads is written out in English: mark it (t(language, ...), tn for a count, N_ "
        "for a constant said later: docs/languages.md), then the two pybabel commands and the ten "
        "translations; or say in ENGLISH_BY_DESIGN why everyone reads it in English:\n" + "\n".join(found))


def test_the_check_finds_a_planted_english_line() -> None:
    planted = '''
async def answer(interaction, language, name, n):
    await interaction.response.send_message(f"Done: {name} is set.", ephemeral=True)
    await interaction.followup.send(t(language, "Done: {name} is set.", name=name))
    embed = discord.Embed(title="Known users", description=t(language, "Who I know"))
    embed.add_field(name=t(language, "Members"), value=f"{n} people")
    embed.set_footer(text=f"{n}")
    await tell(interaction, t(language, "One.") + " Two.")
    view.add_item(discord.ui.Button(label="Close ticket", custom_id="kindred-ticket:1:close"))
    await channel.create_thread(name=f"ticket-{n}", reason="Kindred: a ticket")
'''
    assert sorted(line.split(": ", 1)[1] for line in unmarked(planted, "planted.py")) == sorted([
        "f'Done: {name} is set.'", "'Known users'", "f'{n} people'", "' Two.'", "'Close ticket'",
        "f'ticket-{n}'"])
