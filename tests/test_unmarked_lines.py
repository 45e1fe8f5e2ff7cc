"""No line a person reads or hears is written out in English: the text handed to what posts, answers or
draws on Discord (a message's content, an embed's title, fields and footer, a button's or a text input's
label, a panel's text, a thread's name), to what speaks aloud, or put in a person's own name (a question a
menu asks for them, a note kept for them) is a marked line (``t``, ``tn``, ``N_``: a catalog has it in every
language), or a value, never a literal with words in it. A line built by a function of the same module and
handed on there is read where it is built.

Read from the code (its syntax tree), in every package that may hand a line to a person: ``cogs/``,
``bot/`` (the Discord edge, the features, the operator's gates and answers, the reply sequence, the
character's own life, the runtime, the core) and ``memory/``, ``personaflow/``. What stays English by design
is listed with its reason (docs/languages.md, "Not translated here"): the operator's dashboard (its own
lines are checked in the browser's language) and console, Discord's audit log (a ``reason=``), command names
and descriptions (their own ``commands`` catalogs, read by the tree's translator), and an exception's message
that no one reads. The log channel's answers and panels are read as any other line. A line built in
another module of the project and handed straight to what shows it (``tell(interaction, await
feature.add(...))``: a cog showing what a feature's method returns) is read where it is built: the function of
that name in the modules the showing one imports from (a package: each of its modules). A literal reaching
Discord through a variable is not seen here: the over-the-wire tests in several languages
(tests/test_every_language.py and the ``*_i18n`` files) read what is sent."""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Every folder whose code may hand a line to a person, the reply's and memory's too (what they say in
# character, what a person's commands read back); a module that only the operator or the model reads is
# listed below.
SCANNED = ("cogs", "bot/discord", "bot/features", "bot/operator", "bot/alive", "bot/reply", "bot/runtime",
           "bot/core", "memory", "personaflow")
# Calls that show their text to a person, and the keywords that carry it.
SHOWN_BY = {
    "send", "send_message", "edit_message", "edit_original_response", "followup", "reply", "tell",
    "send_long", "Embed", "add_field", "set_field_at", "insert_field_at", "set_footer", "set_author",
    "Button", "TextInput", "Modal", "SelectOption", "Select", "TextDisplay", "create_thread",
    # said aloud in a call or a voice message
    "speak", "speak_in_call",
    # put in the person's own name: a question asked for them (answered in its language, and kept in their
    # history), a note kept for them (read back to them by /memory list)
    "ask", "remember",
    # the verbose mirror, posted in the log channel's language (bot/operator/logmirror.py): what it is
    # handed, and a line it renders later (each of its values too; what memory's ``notify`` is handed is a
    # Line, which mypy holds it to)
    "mirror", "emit", "model_error", "report", "Line",
    # the log channel's admin answers and panels (bot/discord/logchannel.py), a report's title and figures,
    # and bad input explained to whoever typed it
    "post", "post_panel", "panel", "Report", "InvalidInput",
    # an admin command's autocomplete: each (id, label) row's label is a choice the admin reads
    "id_choices",
}
# Calls whose every keyword is shown: a line's values (bot/core/lines.py).
ALL_KEYWORDS = {"Line", "Report"}
# Reasons the verbose mirror quotes (a reply decision's, the first look's, a limit's, the one rule's
# refusal's, a proactive round's): the position of the reason among each one's arguments (or its
# ``reason=``), the only one shown of them (a decision's ``kind`` is a metric's label, never shown).
REASON_AT = {"Decision": 1, "Look": 2, "Reached": 3, "Refusal": 1, "Verdict": 2}
TEXT_KEYWORDS = {"content", "title", "description", "name", "value", "text", "label", "placeholder"}
# Discord's markup, drawn by each client in its own language: a timestamp (<t:0:R>), a mention.
DISCORD_MARKUP = re.compile(r"<t:\d+(?::[tTdDfFRS])?>|<(?:@[!&]?|#)\d+>")
MARKED = {"t", "tn", "N_", "sentences", "listed"}
# English by design, with the reason (docs/languages.md): a whole module, or one line of one by its text.
ENGLISH_BY_DESIGN = {
    "bot/operator/dashboard/": "the operator's web dashboard: HTML pages, not Discord (its own lines are "
                               "marked, in its templates too, and shown in the browser's language: "
                               "test_dashboard.py; the admin tools' answers it shows are read where they "
                               "are made, in bot/operator/admin/)",
    "bot/runtime/console.py": "the operator's console",
}


def by_design(where: str) -> bool:
    """Whether the module ``where`` is English by design, whole or by its folder."""
    return any(where == key or (key.endswith("/") and where.startswith(key)) for key in ENGLISH_BY_DESIGN)


def has_words(text: str) -> bool:
    """Letters outside Discord's own markup (a timestamp each client writes in its language, a mention)."""
    return any(c.isalpha() for c in DISCORD_MARKUP.sub("", text))


def literal_words(node: ast.expr, helpers: Mapping[str, ast.AST] | None = None) -> list[ast.expr]:
    """The literals with letters in them that ``node`` would show as they are (a marked call is none). A
    call of ``helpers`` (the module's own functions, by name) shows what it returns: a line built by a
    helper beside the call that shows it is read there."""
    helpers = helpers or {}
    def words(value: ast.expr) -> list[ast.expr]:
        return literal_words(value, helpers)
    if isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if name in MARKED:
            return []
        if name in ("join", "format") and isinstance(func, ast.Attribute):
            return [*words(func.value), *(x for a in node.args for x in words(a))]
        if name in helpers:
            inner = {k: v for k, v in helpers.items() if k != name}  # (a helper calling itself: read once)
            return [x for value in returned(helpers[name]) for x in literal_words(value, inner)]
        return []
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node] if has_words(node.value) else []
    if isinstance(node, ast.JoinedStr):
        own = has_words("".join(str(v.value) if isinstance(v, ast.Constant) else "0" for v in node.values))
        inner = [x for v in node.values if isinstance(v, ast.FormattedValue) for x in words(v.value)]
        return ([node] if own else []) + inner
    if isinstance(node, ast.BinOp):
        return [*words(node.left), *words(node.right)]
    if isinstance(node, ast.IfExp):
        return [*words(node.body), *words(node.orelse)]
    if isinstance(node, ast.BoolOp):
        return [x for v in node.values for x in words(v)]
    if isinstance(node, (ast.Tuple, ast.List)):  # a report's figures, (name, value) pairs
        return [x for v in node.elts for x in words(v)]
    if isinstance(node, (ast.GeneratorExp, ast.ListComp)):  # rows made one by one: each is made so
        return words(node.elt)
    return []


def returned(function: ast.AST) -> list[ast.expr]:
    """What ``function`` returns (its own ``return`` statements, not those of functions inside it)."""
    found, todo = [], list(ast.iter_child_nodes(function))
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Return) and node.value is not None:
            found.append(node.value)
        elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            todo.extend(ast.iter_child_nodes(node))
    return found


Helpers = dict[str, ast.AST]
# A function of another module by name: each definition of it, with its own module's helpers and name.
Elsewhere = Mapping[str, list[tuple[ast.AST, Helpers, str]]]


def functions_of(tree: ast.AST) -> Helpers:
    return {node.name: node for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


@functools.cache
def helpers_in(path: Path) -> Helpers:
    """The functions of the module at ``path``, parsed once however many modules import from it."""
    return functions_of(ast.parse(path.read_text(encoding="utf-8")))


def imported_functions(tree: ast.AST) -> dict[str, list[tuple[ast.AST, Helpers, str]]]:
    """The functions (and methods) of the project's modules ``tree`` imports from (``from bot.x import y``; a
    package: each of its modules), by name."""
    found: dict[str, list[tuple[ast.AST, Helpers, str]]] = {}
    modules = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 0
               and node.module and node.module.split(".")[0] in {f.split("/")[0] for f in SCANNED}}
    for module in sorted(modules):
        base = ROOT.joinpath(*module.split("."))
        for path in sorted(base.glob("*.py")) if base.is_dir() else [base.with_suffix(".py")]:
            where = path.relative_to(ROOT).as_posix()
            if not path.exists() or by_design(where):
                continue
            helpers = helpers_in(path)
            for name, function in helpers.items():
                found.setdefault(name, []).append((function, helpers, where))
    return found


def built_elsewhere(value: ast.expr, own: Helpers, elsewhere: Elsewhere) -> list[str]:
    """The literals with letters in them that a call of another module's function shows as they are, when
    ``value`` is one (awaited or not), as "where:line: text" of where they are written."""
    call = value.value if isinstance(value, ast.Await) else value
    if not isinstance(call, ast.Call):
        return []
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if name is None or name in own or name in MARKED:
        return []
    return [f"{where}:{n.lineno}: {ast.unparse(n)[:90]}"
            for function, helpers, where in elsewhere.get(name, ())
            for returned_value in returned(function) for n in literal_words(returned_value, helpers)]


def unmarked(source: str, where: str, elsewhere: Elsewhere | None = None) -> list[str]:
    """Each literal of ``source`` shown to a person unmarked, as "where:line: text" (one built by a function
    of ``elsewhere``, another module's, as where it is written)."""
    found = []
    tree = ast.parse(source)
    helpers = functions_of(tree)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if name in REASON_AT:
            shown = [*node.args[REASON_AT[name]:REASON_AT[name] + 1],
                     *(k.value for k in node.keywords if k.arg == "reason")]
        elif name in SHOWN_BY:
            shown = [*node.args,
                     *(k.value for k in node.keywords if k.arg in TEXT_KEYWORDS or name in ALL_KEYWORDS)]
        else:
            continue
        for value in shown:
            found += [f"{where}:{n.lineno}: {ast.unparse(n)[:90]}" for n in literal_words(value, helpers)]
            found += built_elsewhere(value, helpers, elsewhere or {})
    return found


def test_no_line_a_person_reads_is_written_out_in_english() -> None:
    found = []
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            where = path.relative_to(ROOT).as_posix()
            if not by_design(where):
                source = path.read_text(encoding="utf-8")
                found += [line for line in unmarked(source, where, imported_functions(ast.parse(source)))
                          if f"{line.split(':', 1)[0]}: {line.split(': ', 1)[1]}" not in ENGLISH_BY_DESIGN]
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
    await interaction.followup.send(when(n))
    await asking.ask(asker, question(language, quoted))

def when(n):
    return f"<t:{n}:R> (<t:{n}:D>)"  # each client writes a timestamp in its own language

def question(language, quoted):
    return f"{quoted.author} wrote: {quoted.text}" if quoted.text else t(language, "Make of this?")
'''
    assert sorted(line.split(": ", 1)[1] for line in unmarked(planted, "planted.py")) == sorted([
        "f'Done: {name} is set.'", "'Known users'", "f'{n} people'", "' Two.'", "'Close ticket'",
        "f'ticket-{n}'", "f'{quoted.author} wrote: {quoted.text}'"])


def test_the_check_finds_a_planted_english_mirror_line() -> None:
    planted = '''
async def round(self, bot, user, days, where):
    await bot.mirror(f"Check-in sent to user {user}.")
    self.mirror(Line("Reminder delivered."))
    self.mirror(Line(N_("Reminder {reminder} delivered in {where}."), reminder=1, where="their DM"))
    mirror.emit(Line.tn(days, "Sent after {count} day.", "Sent after {count} days.", user=user))
    mirror.report(Line(N_("Daily memory consolidation")), [(Line(N_("Facts")), Line("2 new"))])
    self.notify(Line(N_("channel {channel}"), channel=where), "a value")
'''
    assert sorted(line.split(": ", 1)[1] for line in unmarked(planted, "planted.py")) == sorted([
        "f'Check-in sent to user {user}.'", "'Reminder delivered.'", "'their DM'", "'2 new'"])


def test_the_check_finds_a_planted_english_admin_answer() -> None:
    planted = '''
async def run(self, tools, arg, language, name, n):
    await self.post(f"Verbose mode is **{arg}**.")
    await self.post(t(language, "Already shutting down."))
    await self.post_panel(report_view(Report("Known users", ((t(language, "Plan"), f"{n} calls"),))))
    raise InvalidInput(f"Usage: `{USAGE['premium']}`.")
    raise InvalidInput(N_("Usage: {syntax}."), syntax="`premium <user id>`")
    await self.post(answer(language, name))

def answer(language, name):
    return f"{name} is now premium" if language else t(language, "{name} is now premium", name=name)
'''
    assert sorted(line.split(": ", 1)[1] for line in unmarked(planted, "planted.py")) == sorted([
        "f'Verbose mode is **{arg}**.'", "'Known users'", "f'{n} calls'", "f\"Usage: `{USAGE['premium']}`.\"",
        "f'{name} is now premium'"])


def test_the_check_finds_a_planted_english_reason() -> None:
    planted = '''
async def decide(self, msg, later, reached, turns):
    if msg.is_dm:
        return Decision(True, "direct message", kind="direct_message")
    if msg.mentions_bot:
        return Decision(True, Line(N_("mentioned")), after=("Finn",), kind="mentioned")
    if later:
        return Decision(False, f"coalesced into {later.message_id}", kind="coalesced")
    if turns:
        return Decision(False, Line.tn(turns, "{count} turn", "{count} turns"), kind="ensemble_turns")
    if reached:
        return Decision(False, Line(N_("limit: {reason}"), reason=reached.reason), kind="limit")
    look = Look(False, 0.2, "first look: not interesting enough", "first_look_uninteresting")
    refused = Refusal("place", Line(N_("this place is inactive")), INACTIVE)
    spent = Reached("rate", 1, "0", Line("5 messages a minute reached"), N_("in a minute"))
    quiet = Verdict(place, False, reason="deactivated here")
    return Decision(False, "limit: " + reached.reason, (True, None), kind="limit")
'''
    assert sorted(line.split(": ", 1)[1] for line in unmarked(planted, "planted.py")) == sorted([
        "'direct message'", "f'coalesced into {later.message_id}'", "'first look: not interesting enough'",
        "'5 messages a minute reached'", "'deactivated here'", "'limit: '"])


def test_the_check_finds_an_english_line_built_in_another_module() -> None:
    feature = ast.parse('''
class Admin:
    async def remove(self, name, language):
        if not name:
            return t(language, "Nothing to remove.")
        return f"Removed the server **{name}**."
''')
    cog = '''
async def remove_server(interaction, name):
    await tell(interaction, await admin(interaction).remove(name, await answer_language(interaction)))
    await tell(interaction, t(language, "Done."))
'''
    helpers = functions_of(feature)
    elsewhere = {name: [(function, helpers, "feature.py")] for name, function in helpers.items()}
    assert [line.split(": ", 1)[1] for line in unmarked(cog, "cog.py", elsewhere)] == [
        "f'Removed the server **{name}**.'"]
    assert unmarked(cog, "cog.py", elsewhere)[0].startswith("feature.py:6: ")


def test_the_check_finds_a_planted_english_choice_label() -> None:
    planted = '''
async def version_choices(self, rows, current, language):
    if language:
        return id_choices(((vid, f"#{vid} ({len(items)} memories)") for vid, items in rows), current)
    return id_choices([(vid, f"#{vid} " + tn(language, "{count} memory", "{count} memories", len(items)))
                       for vid, items in rows], current)
'''
    assert [line.split(": ", 1)[1] for line in unmarked(planted, "planted.py")] == [
        "f'#{vid} ({len(items)} memories)'"]
