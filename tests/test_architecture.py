"""The module layout's own rules, checked from the code: no import cycle between any two modules (whatever
package they are in), classes of a readable size, one class per name. `lint-imports` checks which package may
import which (pyproject.toml). A file's length is no rule: a module is sized by its concern."""

from __future__ import annotations

import ast
import dataclasses
import functools
import re
from collections.abc import Collection
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
# The Discord edge: the cogs and the Bot class with its helpers.
EDGE = (ROOT / "cogs", ROOT / "bot" / "discord")
PACKAGES = ("bot", "cogs", "database", "memory", "personaflow")
MAX_METHODS_PER_CLASS = 40


@functools.cache
def parsed(path: Path) -> ast.Module:
    """The module at ``path``, parsed once for every check that reads it (none changes a tree)."""
    return ast.parse(path.read_text())


def test_no_import_cycle_between_any_two_modules() -> None:
    # cache_dir=None: no .grimp_cache written into the checkout (tests write to temp folders only).
    graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=True, cache_dir=None)
    cycles = []
    for module in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            back = graph.find_shortest_chain(importer=imported, imported=module)
            if back:
                cycles.append(" -> ".join((module, *back)))
    assert cycles == []


def test_no_class_has_more_than_forty_methods() -> None:
    crowded: dict[str, int] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(parsed(path)):
                if isinstance(node, ast.ClassDef):
                    methods = [n for n in node.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
                    if len(methods) > MAX_METHODS_PER_CLASS:
                        crowded[f"{path.relative_to(ROOT)}:{node.name}"] = len(methods)
    assert crowded == {}


def test_each_class_name_is_defined_once() -> None:
    """A name that means two things (five protocols all called ``Bot``) misleads whoever reads an import."""
    where: dict[str, list[str]] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(parsed(path)):
                if isinstance(node, ast.ClassDef):
                    where.setdefault(node.name, []).append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert {name: places for name, places in where.items() if len(places) > 1} == {}


MAX_MODULES_DIRECTLY_IN_BOT = 12
BOT_PACKAGES = {"alive", "core", "discord", "features", "operator", "reply", "runtime"}


def test_bot_is_in_layers_not_modules_side_by_side() -> None:
    """A new module goes into the package of its layer or feature (docs/architecture.md, "Where new things
    go")."""
    modules = sorted(p.name for p in (ROOT / "bot").glob("*.py"))
    packages = {p.name for p in (ROOT / "bot").iterdir() if (p / "__init__.py").is_file()}
    assert len(modules) <= MAX_MODULES_DIRECTLY_IN_BOT, modules
    assert packages == BOT_PACKAGES


FEATURE_WORDS = ("swipe", "remind", "search")
# What a feature is on Discord's side: its module's own, not the flow's nor the Bot class's.
FEATURE_MODULES = ("bot.features",)


def _identifiers(tree: ast.AST) -> set[str]:
    """The names a module's code uses (not its strings nor comments): variables, attributes, arguments,
    what it imports and defines."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.alias):
            names.add(node.asname or node.name)
        elif isinstance(node, ast.keyword) and node.arg is not None:
            names.add(node.arg)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
    return names


def test_the_message_flow_and_the_bot_class_name_no_feature() -> None:
    """bot/discord/flow.py hands a message to the reply sequence and tells the post observers connected to
    it, and the Bot class (bot/discord/client.py) builds the flow and closes what it was given: what a
    feature does around a post, and its timers' Discord side, are its cog's (cogs/swipes.py)."""
    graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=False, cache_dir=None)
    named = {}
    for module in ("bot.discord.flow", "bot.discord.client"):
        path = ROOT / (module.replace(".", "/") + ".py")
        words = sorted(n for n in _identifiers(parsed(path))
                       if any(word in n.lower() for word in FEATURE_WORDS))
        imports = sorted(m for m in graph.find_modules_directly_imported_by(module)
                         if m.startswith(FEATURE_MODULES))
        if words or imports:
            named[module] = words + imports
    assert named == {}


def test_the_console_builds_no_feature_itself() -> None:
    """Console mode gets what a feature lends its replies as the bot does, from the feature's registration
    (``in_console``) built by the composition root: it imports no feature's module and names none."""
    graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=False, cache_dir=None)
    imports = sorted(m for m in graph.find_modules_directly_imported_by("bot.runtime.console")
                     if m.startswith(FEATURE_MODULES))
    words = sorted(n for n in _identifiers(ast.parse((ROOT / "bot" / "runtime" / "console.py").read_text()))
                   if any(word in n.lower() for word in FEATURE_WORDS))
    assert imports == [] and words == []


def test_the_bot_groups_own_cog_names_no_feature() -> None:
    """``/bot``'s own cog (cogs/activation.py) makes a command per registered switch and tells the features
    of a place switched off (``place_changed``) from their registrations alone: it imports no feature's
    module (only the list, bot.features) and its code names none. A feature's own subgroup (``/bot mcp``)
    is its own cog's."""
    from bot.features import FEATURES

    graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=False, cache_dir=None)
    imports = sorted(m for m in graph.find_modules_directly_imported_by("cogs.activation")
                     if m.startswith("bot.features."))
    names = {f.name for f in FEATURES}
    words = sorted(n for n in _identifiers(ast.parse((ROOT / "cogs" / "activation.py").read_text()))
                   if any(name in n.lower() for name in names))
    assert imports == [] and words == []


def test_cogs_call_feature_classes_not_the_store() -> None:
    """A cog turns Discord in and out and calls a feature's plain class; the workflow and the data access
    live in that class (bot/<feature>/), where they are tested without Discord."""
    calls = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
             for path in sorted(p for edge in EDGE for p in edge.glob("*.py"))
             for n, line in enumerate(path.read_text().splitlines(), 1) if "store." in line]
    assert calls == []


def test_settings_are_read_through_their_sections_and_swapped_not_written() -> None:
    """No bare-key fallback (``settings.<section>.<key>`` everywhere), no class made at run time (``type()``
    with a name, bases and a namespace: the settings are the plain dataclasses they are declared as), and
    nothing writes into a frozen value but the one copy of a reload into the running settings
    (``SettingsHolder.update``, bot/core/config/holder.py)."""
    found = [f"{path.relative_to(ROOT)}:{n}" for path in sorted((ROOT / "bot").rglob("*.py"))
             for n, line in enumerate(path.read_text().splitlines(), 1)
             if "__getattr__" in line or "object.__setattr__" in line]
    assert [f.rsplit(":", 1)[0] for f in found] == ["bot/core/config/holder.py"]
    made = [f"{path.relative_to(ROOT)}:{node.lineno}" for package in PACKAGES
            for path in sorted((ROOT / package).rglob("*.py"))
            for node in ast.walk(parsed(path))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "type"
            and len(node.args) == 3]
    assert made == []


def test_the_composition_root_hands_out_sections_that_follow_a_reload() -> None:
    """A class takes its settings section (issue 45): bot/runtime/composition.py hands it
    ``holder.follow(XSettings)``, the running section a reload writes into, in one spelling throughout
    (not ``settings.<section>``, which reads as a value taken once)."""
    from bot.core.config.sections import SECTIONS

    tree = ast.parse((ROOT / "bot" / "runtime" / "composition.py").read_text())
    read_keys = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    whole = [f"line {node.lineno}: settings.{node.attr}" for node in ast.walk(tree)
             if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
             and node.value.id == "settings" and node.attr in SECTIONS and id(node) not in read_keys]
    assert whole == []


# Long-lived services (issue 45): built once, by the composition root, never by a cog.
SERVICES = {"ClaudeClient", "ReplyPipeline", "MemoryService", "Alive", "AccessGate", "SpendingLimits",
            "AdminTools", "ActivityRecorder", "Places", "Moderation", "Polls", "PollLifecycle", "UserInfo",
            "TicketDesk", "ServerSettings", "CheckInChoice", "Dashboard", "AsyncIOScheduler", "Dispatcher",
            "Cluster"}


def test_services_are_built_in_the_composition_root_and_scheduled_by_one_scheduler() -> None:
    """bot/runtime/composition.py builds every long-lived service; cogs take theirs from the bot; the one
    clock (APScheduler) is the timer loop's (bot/core/timers.py)."""
    built = []
    for path in sorted(p for edge in EDGE for p in edge.glob("*.py")):
        for node in ast.walk(parsed(path)):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in SERVICES:
                built.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.func.id}")
    assert built == []
    schedulers = sorted(str(path.relative_to(ROOT)) for package in PACKAGES
                        for path in (ROOT / package).rglob("*.py") if "AsyncIOScheduler(" in path.read_text())
    assert schedulers == ["bot/core/timers.py"]


def test_the_bot_reaches_its_services_one_way() -> None:
    """The Bot keeps every long-lived service in ``services`` alone: no copy of one as an attribute of its
    own (so a cog reaches each one way), and no ``hasattr`` guard nor ``getattr`` look-up of one for a
    half-built bot."""
    from bot.runtime.composition import Services

    fields = {f.name for f in dataclasses.fields(Services)} | {"places", "scheduler"}
    client = ROOT / "bot" / "discord" / "client.py"
    tree = ast.parse(client.read_text())
    mixin = next(n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == "KindredMixin")
    own = {n.target.id for n in mixin.body if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)}
    own |= {n.attr for n in ast.walk(mixin) if isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store)
            and isinstance(n.value, ast.Name) and n.value.id == "self"}
    assert sorted(own & fields) == []
    guards = [f"{path.relative_to(ROOT)}:{node.lineno}" for path in (client, *(ROOT / "cogs").glob("*.py"))
              for node in ast.walk(parsed(path))
              if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "hasattr"]
    assert guards == []
    looked_up = [f"{path.relative_to(ROOT)}:{node.lineno}" for edge in EDGE for path in edge.glob("*.py")
                 for node in ast.walk(parsed(path))
                 if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                 and node.func.id == "getattr" and len(node.args) > 1
                 and isinstance(node.args[1], ast.Constant) and node.args[1].value in fields]
    assert looked_up == []


def test_the_model_client_knows_requests_not_votes_nor_the_operators_limits() -> None:
    """The core reads no reply-layer setting (vote windows live in bot/reply/deciding/voting.py), and the
    spending
    limits reach the model client as its one typed collaborator, not through hooks added from outside."""
    core = {str(path.relative_to(ROOT)): path.read_text() for path in (ROOT / "bot" / "core").rglob("*.py")
            if "config" not in path.parts}  # (where every setting is declared)
    assert [name for name, text in core.items() if "vote_window" in text or "def vote(" in text] == []
    client = core["bot/core/claude.py"]
    assert "spend_guards" not in client and "on_spend" not in client


CALLABLE_WORDS = ("Callable", "Listener", "Filter", "Interceptor", "Gate", "Handler", "Hook", "Awaitable")


def test_no_class_in_bot_exposes_a_list_of_callables() -> None:
    """What a feature adds to a reply (a gate, a prompt part, a filter, an observer) is declared once by the
    composition root, as a constructor argument (bot/core/stages.py ``Features``): no public list an
    outsider appends to after construction. The data layer too: a repository tells of its changes through
    what it is given at construction (database/refreshing.py ``CacheChanges``)."""
    lists = []
    for package in ("bot", "memory", "database"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(parsed(path)):
                if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Attribute)
                        and not node.target.attr.startswith("_")):
                    kind = ast.unparse(node.annotation)
                    if kind.startswith("list[") and any(word in kind for word in CALLABLE_WORDS):
                        lists.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.target.attr}: {kind}")
    assert lists == []


def test_nothing_outside_the_reply_writer_reads_its_store_settings_or_model_client() -> None:
    """Features get the narrow things they use (repositories, the model client, the character) from the
    composition root, never a character's pipeline or writer as a service locator."""
    pipeline = {"bot/reply/writer.py", "bot/reply/keeping.py"}
    reads = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
             for package in ("bot", "cogs", "memory")
             for path in sorted((ROOT / package).rglob("*.py")) if str(path.relative_to(ROOT)) not in pipeline
             for n, line in enumerate(path.read_text().splitlines(), 1)
             for holder in ("writer", "pipeline") for attr in ("store", "settings", "claude")
             if f"{holder}.{attr}" in line.replace("self.", "") and f"{holder}.{attr}_" not in line]
    assert reads == []


def test_the_composition_root_attaches_nothing_after_construction() -> None:
    """compose() builds each object with what it uses: no .append onto another object's list, no
    attach(), no attribute of a built object set from outside (its own local lists aside)."""
    text = (ROOT / "bot" / "runtime" / "composition.py").read_text()
    later = (".append(", ".attach(", ".add(", ".bot_user_id =")
    assert [line.strip() for line in text.splitlines()
            if not line.strip().startswith("cast.") and any(word in line for word in later)] == []


def test_the_reactions_felt_get_their_correction_answers_as_alive_is_built() -> None:
    """What answers a correction kept (a feature's, built from ``Running``) is an argument of ``Alive``:
    ``Running`` takes what the initiative says (``SaidFeelings``), not ``Alive``'s, so no one sets the
    answers on the reactions of a built ``Alive``."""
    import inspect

    from bot.alive.service import Alive

    assert "corrections" in inspect.signature(Alive).parameters
    set_later = [f"{path.relative_to(ROOT)}:{node.lineno}"
                 for path in sorted((ROOT / "bot").rglob("*.py"))
                 for node in ast.walk(parsed(path))
                 if isinstance(node, ast.Assign)
                 for target in node.targets
                 if isinstance(target, ast.Attribute) and target.attr == "answers"
                 and not (isinstance(target.value, ast.Name) and target.value.id == "self")]
    assert set_later == []


def test_whether_to_answer_is_imported_through_its_package_s_entry_point() -> None:
    """bot/reply/deciding is one package with one entry point (its __init__): no module outside it imports its
    modules (tests may, for their unit tests)."""
    package = "bot.reply.deciding"
    graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=False, cache_dir=None)
    inside = {m for m in graph.modules if m == package or m.startswith(package + ".")}
    reaching = sorted(f"{importer} imports {imported}" for importer in sorted(graph.modules - inside)
                      for imported in graph.find_modules_directly_imported_by(importer)
                      if imported.startswith(package + "."))
    assert reaching == []


PROJECT_PACKAGES = ("bot", "memory", "database", "characters", "personaflow", "cogs")
WIRING = ("__init__", "cog_load")  # a cog's moments of being built and loaded


def test_cogs_build_nothing_and_register_nothing() -> None:
    """compose() builds everything and the bot hands it the Discord edge: a cog, when built or loaded,
    constructs no project object but its feature's Discord side (a class of its own module or of the edge,
    bot/discord/, which it connects to the feature: cogs/polls.py's results board, cogs/swipes.py's desk,
    cogs/voice.py's calls), and hands none of its own methods to another object (no handler, sink or
    listener registered from a cog: what hears what is declared by the composition root)."""
    import importlib
    import inspect

    from discord.ext import commands

    found = []
    for path in sorted((ROOT / "cogs").glob("*.py")):
        module = importlib.import_module(f"cogs.{path.stem}")
        tree = parsed(path)
        for node in tree.body:
            cog = getattr(module, node.name, None) if isinstance(node, ast.ClassDef) else None
            if not (inspect.isclass(cog) and issubclass(cog, commands.Cog)):
                continue
            assert isinstance(node, ast.ClassDef)
            own = {f.name for f in node.body if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)}
            for fn in node.body:
                if not (isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef) and fn.name in WIRING):
                    continue
                for call in (c for c in ast.walk(fn) if isinstance(c, ast.Call)):
                    built = getattr(module, call.func.id, None) if isinstance(call.func, ast.Name) else None
                    if inspect.isclass(built) and (built.__module__ == module.__name__
                                                   or built.__module__.startswith("bot.discord.")):
                        continue  # its feature's Discord side
                    if inspect.isclass(built) and built.__module__.split(".")[0] in PROJECT_PACKAGES:
                        found.append(f"{path.name}:{call.lineno}: {node.name}.{fn.name} builds "
                                     f"{built.__name__}")
                    for arg in [*call.args, *(k.value for k in call.keywords)]:
                        if (isinstance(arg, ast.Attribute) and isinstance(arg.value, ast.Name)
                                and arg.value.id == "self" and arg.attr in own):
                            found.append(f"{path.name}:{call.lineno}: {node.name}.{fn.name} registers "
                                         f"self.{arg.attr}")
    assert found == []


def discord_sides(graph: grimp.ImportGraph, package: str) -> set[str]:
    """A feature's Discord side in the edge: the modules of bot/discord/ that import its package (its
    settings aside: the servers' language is read by every feature's lines)."""
    return {m for m in graph.modules if m.startswith("bot.discord.")
            and any((x == package or x.startswith(package + "."))
                    and x.rsplit(".", 1)[-1] not in ("config", "settings")
                    for x in graph.find_modules_directly_imported_by(m))}


def test_no_hub_wires_a_feature_s_discord_side() -> None:
    """What a feature does on Discord is built and connected by its own cogs as they load (its
    registration's ``cogs``): no other module (the bot class, the composition root, a hub naming the
    features) imports a module of a feature's Discord side."""
    from bot.features import FEATURES

    graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=False, cache_dir=None)
    wired = {}
    for feature in FEATURES:
        sides = discord_sides(graph, f"bot.features.{feature.name}")
        outside = sorted(importer for side in sides
                         for importer in graph.find_modules_that_directly_import(side)
                         if importer not in sides and importer not in feature.cogs)
        if outside:
            wired[feature.name] = outside
    assert wired == {}


def test_a_cogs_setup_builds_only_the_cog() -> None:
    """A cog module's ``setup()`` adds its cog, handing it what the bot already holds (``bot.flow``...): the
    message flow and every other collaborator is built by the bot's setup_hook or the composition root."""
    import importlib
    import inspect

    from discord.ext import commands

    found = []
    for path in sorted((ROOT / "cogs").glob("*.py")):
        module = importlib.import_module(f"cogs.{path.stem}")
        for fn in parsed(path).body:
            if not (isinstance(fn, ast.AsyncFunctionDef) and fn.name == "setup"):
                continue
            for call in (c for c in ast.walk(fn) if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)):
                built = getattr(module, call.func.id, None)
                if not (inspect.isclass(built) and issubclass(built, commands.Cog)):
                    found.append(f"{path.name}:{call.lineno}: setup() builds {call.func.id}")
    assert found == []


def test_bot_reaches_no_cog_and_runs_no_loop_of_its_own_in_a_cog() -> None:
    """Nothing in ``bot/`` looks a cog up (``get_cog``): what it needs (the work in flight, the flow) it is
    given at construction. No cog runs a ``tasks.loop``: timers are the runtime's (bot/core/timers.py, the
    cluster's and the heartbeat's loops, started by the bot and stopped by its close)."""
    found = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
             for package, word in (("bot", "get_cog("), ("cogs", "tasks.loop"))
             for path in sorted((ROOT / package).rglob("*.py"))
             for n, line in enumerate(path.read_text().splitlines(), 1) if word in line]
    assert found == []


# A reply's stages, one character's (bot/reply/pipeline.py ``Stages``), built by the composition root's reply
# part (bot/runtime/replies.py) and run by the one ReplySequence: nothing else imports them nor reaches them.
STAGE_MODULES = {"bot.reply.admission", "bot.reply.composing", "bot.reply.writer", "bot.reply.keeping",
                 "bot.reply.owed", "bot.reply.throttle"}
REPLY_ROOT = "bot.runtime.replies"
REPLY_OWNER = ROOT / "bot" / "reply" / "pipeline.py"
STAGES_OF_A_PIPELINE = {"admission", "keeper", "decider", "throttle", "turns", "owed", "composer", "writer",
                        "stages"}


def _python_files(*packages: str) -> list[Path]:
    return sorted(path for package in packages for path in (ROOT / package).rglob("*.py"))


def test_nothing_outside_the_reply_package_builds_or_imports_a_stage_of_a_reply() -> None:
    graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=False, cache_dir=None)
    reaching = sorted(f"{importer} imports {imported}" for importer in sorted(graph.modules)
                      if not importer.startswith("bot.reply.") and importer != REPLY_ROOT
                      for imported in graph.find_modules_directly_imported_by(importer)
                      if imported in STAGE_MODULES)
    assert reaching == []


def test_a_pipelines_stages_are_the_sequences_to_run() -> None:
    """A character's stages are one ``Stages`` value its ReplyPipeline holds, and only the reply owner's
    module (bot/reply/pipeline.py: the sequence runs them, the pipeline answers its two questions with them)
    reads ``.stages``; no module reaches a stage through a pipeline either (``pipeline.admission``,
    ``cast.main.turns``...), in bot/, cogs/ or memory/: a class uses its own collaborators."""
    reached = []
    for path in _python_files("bot", "cogs", "memory"):
        if path == REPLY_OWNER:
            continue
        for node in ast.walk(parsed(path)):
            if not isinstance(node, ast.Attribute) or node.attr.lstrip("_") not in STAGES_OF_A_PIPELINE:
                continue
            owner = ast.unparse(node.value)
            if owner in ("self", "cls"):
                continue  # a class's own collaborator
            if node.attr == "stages" or re.search(r"(pipeline|main)(\(.*\))?$", owner):
                reached.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
    assert reached == []


def test_tests_watch_a_pipeline_from_outside() -> None:
    """Tests and benchmarks watch a reply through what it shows (the wire, the database, the log, a service
    the composition root exposes on purpose), never by opening a stage: no ``.stages``, no private name
    after ``pipeline.``, nor a ``_turns``, ``_writer``... after any dot, there."""
    opened = []
    for path in sorted([*(ROOT / "tests").rglob("*.py"), *(ROOT / "benchmarks").rglob("*.py")]):
        for node in ast.walk(parsed(path)):
            if not isinstance(node, ast.Attribute):
                continue
            owner = ast.unparse(node.value)
            if owner in ("self", "cls"):
                continue
            if node.attr == "stages" and not owner.endswith("core") or node.attr.startswith("_") and (
                    node.attr.lstrip("_") in STAGES_OF_A_PIPELINE or re.search(r"pipeline(\(.*\))?$", owner)):
                opened.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
    assert opened == []


# What crosses a class's boundary: a private member (``_name``) is its own class's. Read on another object
# only where a library gives no public way, each said why; namedtuple's ``_replace``/``_make``/``_asdict``
# are its public API (underscored so they cannot clash with a field), as a SQLAlchemy Row's ``_mapping`` is
# (its columns by name: database/rowmap.py), and ``super()._x`` is the class's own.
NAMEDTUPLE_API = {"_replace", "_make", "_asdict", "_fields", "_mapping"}
LIBRARY_PRIVATES = {
    ("bot/discord/flow.py", "message._state._get_message"): "discord.py: its message cache, no public lookup",
    ("bot/discord/flow.py", "message._state"): "discord.py: the connection state holding that cache",
    ("bot/discord/media.py", "attachment._http"): "discord.py: no streaming read of an attachment",
    ("bot/discord/media.py", "http._HTTPClient__session"): "discord.py: its aiohttp session, for that read",
    ("bot/features/voice/setup.py", "discord.opus._load_default"): "discord.py: libopus found its own way",
    ("bot/features/mcp/address.py", "transport._pool"): "httpx: the pool that refuses addresses at connect",
    ("bot/features/reminders/recurrence.py", "parsed._until"): "dateutil: an rrule keeps its parts private",
    ("bot/features/reminders/recurrence.py", "parsed._count"): "dateutil, as above",
    ("bot/features/reminders/recurrence.py", "parsed._freq"): "dateutil, as above",
    ("bot/core/numbers.py", "locale._data"): "Babel: CLDR's unit patterns; format_unit falls back from a "
                                             "language's missing long forms to none of its short ones",
}


def private_reaches(source: str) -> list[tuple[int, str]]:
    """Each read or call of another object's private member in ``source``: ``other._x`` or ``other._x(...)``
    where ``other`` is not ``self``, ``cls`` nor ``super()`` (line, expression)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Attribute) or not node.attr.startswith("_") \
                or node.attr.startswith("__") and node.attr.endswith("__") or node.attr in NAMEDTUPLE_API:
            continue
        owner = node.value
        if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
            continue
        if isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name) and owner.func.id == "super":
            continue
        found.append((node.lineno, ast.unparse(node)))
    return sorted(found)


def test_the_private_member_check_catches_a_planted_call() -> None:
    planted = """
class Sequence:
    async def handle(self, msg, pipeline, turn):
        self._span("x")                   # its own
        super()._setup()                  # its own, inherited
        turn = turn._replace(text="")     # namedtuple's public API
        await pipeline._admit(msg)        # another object's private step
        return pipeline.stages._owed      # and a private member read through a chain
"""
    assert private_reaches(planted) == [(7, "pipeline._admit"), (8, "pipeline.stages._owed")]


def test_no_class_reaches_another_objects_private_members() -> None:
    """The boundary is the class, not the module: nothing in bot/, cogs/, memory/ or database/ calls or reads
    another object's ``_private`` member (the reply sequence once called 15 of its pipelines' private
    steps), a library's only where it gives no public way (``LIBRARY_PRIVATES``, each with its reason)."""
    found = []
    for path in _python_files("bot", "cogs", "memory", "database"):
        where = str(path.relative_to(ROOT))
        for line, expression in private_reaches(path.read_text()):
            if (where, expression) not in LIBRARY_PRIVATES:
                found.append(f"{where}:{line}: {expression}")
    assert found == []


def forwards(source: str, classes: Collection[str] = ()) -> list[str]:
    """The one-line forwards among ``source``'s methods: a body (its docstring aside) of one call of a
    collaborator's method (``self.x.m(...)``, ``self.x.y.m(...)``, returned or awaited or not) handed the
    method's own parameters exactly, nothing added, dropped or changed: a second name for a call, a hop a
    reader takes for nothing. ``classes``: only those (all, when none are named)."""
    found = []
    for cls in (n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.ClassDef)
                and (not classes or n.name in classes)):
        for method in (n for n in cls.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)):
            if any(ast.unparse(d) in ("property", "staticmethod") for d in method.decorator_list):
                continue
            body = [n for n in method.body
                    if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
            value = body[0].value if len(body) == 1 and isinstance(body[0], ast.Return | ast.Expr) else None
            call = value.value if isinstance(value, ast.Await) else value
            if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                    and isinstance(call.func.value, ast.Attribute)
                    and ast.unparse(call.func.value).startswith("self.")):
                continue
            args = method.args
            params = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)][1:]
            passed = [ast.unparse(a) for a in call.args] + [
                k.value.id for k in call.keywords if isinstance(k.value, ast.Name) and k.arg == k.value.id]
            if len(passed) == len(call.args) + len(call.keywords) and passed == params:
                found.append(f"{cls.name}.{method.name}: {ast.unparse(call)}")
    return found


def test_the_forward_check_catches_a_planted_forward() -> None:
    planted = """
class Pipeline:
    async def respond(self, msg, outlet, *, see_later=False):
        \"\"\"Answer msg.\"\"\"
        return await self._writer.respond(msg, outlet, see_later=see_later)

    def note_peer(self, channel_id, user_id, name):
        self._turns.note_peer(channel_id, user_id, name)

    async def withdraw(self, msg):
        await self._owed.settle(msg.message_id, at_once=True)  # a step's own choice: not a forward

    @property
    def persona(self):
        return self._character.current()
"""
    assert forwards(planted) == ["Pipeline.respond: self._writer.respond(msg, outlet, see_later=see_later)",
                                 "Pipeline.note_peer: self._turns.note_peer(channel_id, user_id, name)"]


def test_the_reply_owner_runs_its_steps_itself() -> None:
    """The reply owner (ReplySequence, bot/reply/pipeline.py: each step a method of its own) and the
    characters it runs (ReplyPipeline): none of their methods is a one-line forward to a stage. (The cast
    beside them, Solo, answers the Cast protocol's questions with its one pipeline's answers.)"""
    assert forwards(REPLY_OWNER.read_text(), {"ReplySequence", "ReplyPipeline"}) == []


def test_one_owner_of_the_owed_replies() -> None:
    """Which replies this process owes is kept by one OwedMarks per character (bot/reply/owed.py): no other
    class keeps a set of owed messages, and only it writes or clears the mark of a reply being answered
    (the start-up recovery closes the stale marks of a previous run through the repository)."""
    owner = ROOT / "bot" / "reply" / "owed.py"
    elsewhere = []
    for path in _python_files("bot", "cogs", "memory"):
        if path == owner:
            continue
        for node in ast.walk(parsed(path)):
            if isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                value = node.value
                holds_a_set = isinstance(value, ast.Set | ast.SetComp) or (isinstance(value, ast.Call)
                    and isinstance(value.func, ast.Name) and value.func.id == "set")
                for target in targets:
                    name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
                    if "owed" in name.lower() and holds_a_set:
                        elsewhere.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}, owed messages")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                call = ast.unparse(node.func)
                if node.func.attr == "settle_owed" or call.endswith("owed.mark"):
                    elsewhere.append(f"{path.relative_to(ROOT)}:{node.lineno}: {call}")
    assert elsewhere == []
    assert "class OwedMarks" in owner.read_text()


def test_who_may_talk_is_asked_through_the_one_rule() -> None:
    """Whom the character may speak to or hear is one rule (bot/operator/reach.py), and every way asks it:
    nothing but the rule reads the access lists or the spending limits' checks (outside it only the
    composition root, which builds them); a message's every way in reaches it through its pipeline's
    admission, the rest through ``services.reach`` or the Speaker; and only the rule gives a Permit (the
    character's own initiative opens no DM or channel without one)."""
    allowed = {"bot.runtime.composition", "bot.operator.reach"}
    graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=False, cache_dir=None)
    importing = sorted(m for m in graph.find_modules_that_directly_import("bot.operator.access")
                       if m not in allowed)
    assert importing == []
    reaching, issuing = [], []
    for path in _python_files("bot", "cogs", "memory"):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for node in ast.walk(parsed(path)):
            if module not in allowed and isinstance(node, ast.Attribute) and (
                    node.attr == "access" and ast.unparse(node.value).endswith("services")
                    or node.attr in {"refusal", "reached"} and ast.unparse(node.value).endswith("limits")):
                reaching.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
            if isinstance(node, ast.Call) and ast.unparse(node.func).split(".")[-1] == "issue" \
                    and module not in {"bot.operator.reach", "bot.core.reach"}:
                issuing.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
    assert reaching == []
    assert issuing == []


# Reads of a row's column by its position (``row[3]``) in the data layer: a column added to a query, or the
# order changed, reads the wrong value silently. They are read by name now (database/rowmap.py ``record``,
# ``row.col``); the ceiling is the count left, lowered as modules are converted, never raised.
POSITIONAL_ROW_READS = 75


def test_the_data_layer_reads_fewer_row_columns_by_position() -> None:
    pattern = re.compile(r"\b(?:r|row)\[\d+\]")
    counts = {path.relative_to(ROOT).as_posix(): len(pattern.findall(path.read_text(encoding="utf-8")))
              for path in sorted((ROOT / "database").rglob("*.py"))}
    total = sum(counts.values())
    worst = sorted(((n, p) for p, n in counts.items() if n), reverse=True)[:5]
    assert total <= POSITIONAL_ROW_READS, (
        f"{total} reads of a row column by position in database/ (at most {POSITIONAL_ROW_READS}): read "
        f"it by name (database/rowmap.py); most in {worst}")


# A feature in one place: the polls' production code (their logic, tables, queries, record type, and what they
# ask of Discord) is their package's and their cog's, registered by one line. Outside tests/ and the
# migrations, any other file naming it means the feature leaked out again.
POLLS_HOME = ("bot/features/polls/", "cogs/polls.py")
POLLS_REGISTRY = "bot/features/__init__.py"
POLLS_MODULES = ("bot.features.polls", "cogs.polls")
POLLS_TABLES = {"polls", "poll_votes"}
POLL_CLASS = re.compile(r"Poll(?:s|[A-Z]|$)")  # Poll, PollVote, Polls, DiscordPollBoard; not "polling"


def _poll_functions() -> set[str]:
    """The functions and values the polls' home defines with "poll" in their name (``parse_poll``)."""
    paths = [*(ROOT / "bot" / "features" / "polls").glob("*.py"), ROOT / "cogs" / "polls.py"]
    defined = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
    return {name for path in paths for node in parsed(path).body
            for name in ([node.name] if isinstance(node, defined)
                         else [t.id for t in getattr(node, "targets", []) if isinstance(t, ast.Name)])
            if "poll" in name.lower()}


def naming_polls(source: str, functions: Collection[str] = ()) -> list[int]:
    """The lines of ``source`` whose code names the polls: imports their package or cog, names a class of
    theirs, one of their ``functions``, or one of their tables by name."""
    lines = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(POLLS_MODULES):
            lines.add(node.lineno)
        elif isinstance(node, ast.Import) and any(a.name.startswith(POLLS_MODULES) for a in node.names):
            lines.add(node.lineno)
        elif isinstance(node, ast.Constant) and node.value in POLLS_TABLES:
            lines.add(node.lineno)
        elif isinstance(node, ast.Name | ast.Attribute | ast.alias | ast.ClassDef | ast.FunctionDef):
            name = {ast.Name: "id", ast.Attribute: "attr", ast.alias: "name"}.get(type(node), "name")
            word = getattr(node, name)
            if POLL_CLASS.search(word) or word in functions:
                lines.add(node.lineno)
    return sorted(lines)


def test_the_polls_check_catches_a_feature_spread_over_the_data_layer() -> None:
    planted = """
from database.polls import Polls
from bot.features.polls.lifecycle import parse_poll
class Store:
    def __init__(self, db):
        self.polls = Polls(db)
        self.poll_seconds = 5.0  # a poll of another kind
PERSON_COLUMNS = {"polls": ("author_id",), "users": ("id",)}
board = DiscordPollBoard
"""
    assert naming_polls(planted, {"parse_poll"}) == [2, 3, 6, 8, 9]


def test_the_polls_live_in_their_package_and_their_cog() -> None:
    """Polls are a stateful feature in one place: bot/features/polls/ (logic, tables, queries, record, the
    Discord side's protocol) and cogs/polls.py (the slash command, the buttons, the results board), one line
    in the features' list; no file of the data layer, the hub or another feature names them."""
    functions = _poll_functions()
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        where = path.relative_to(ROOT).as_posix()
        if where.startswith(("tests/", "database/migrations/", ".")) or "/." in where:
            continue
        if where.startswith(POLLS_HOME):
            continue
        lines = naming_polls(path.read_text(), functions)
        if lines:
            found[where] = lines
    registry = found.pop(POLLS_REGISTRY, [])
    assert found == {}, "polls' code named outside bot/features/polls/ and cogs/polls.py"
    assert len(registry) <= 1, f"{POLLS_REGISTRY} registers the polls in one line, not {registry}"


def switch_reads(source: str) -> list[tuple[int, str]]:
    """Where ``source`` reads a per-place switch by its name, with a default of its own choosing
    (``switch_is_on(name, ..., default)``, ``switches.is_on(name, ..., default)``) instead of through the
    switch's :class:`~bot.operator.registration.PlaceSwitch` (its default and a thread's channel its own)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and (
                node.func.attr == "switch_is_on"
                or node.func.attr == "is_on" and ast.unparse(node.func.value).endswith("switches")):
            found.append((node.lineno, ast.unparse(node.func)))
    return sorted(found)


def test_the_switch_read_check_catches_a_planted_read() -> None:
    planted = """
async def lend(self, msg):
    if await self.quiet.on(msg.place):               # through its switch
        return ()
    if not await self.store.switches.is_on("swipes", msg.channel_id, msg.guild_id, True):
        return ()
    return await self.places.switch_is_on("voice", msg.channel_id, msg.guild_id, False)
"""
    assert switch_reads(planted) == [(5, "self.store.switches.is_on"), (7, "self.places.switch_is_on")]


def test_a_feature_reads_its_switch_through_the_switch() -> None:
    """Every per-place switch is read one way (bot/operator/registration.py ``PlaceSwitch``): its default
    is the switch's (the setting it follows, a mastered one never on past it) and a thread follows its
    channel, so no reader can pass another default or leave a thread's channel out (swipes and proactive
    talk once did). Only that class asks the place settings."""
    found = []
    for path in _python_files("bot", "cogs", "memory"):
        where = str(path.relative_to(ROOT))
        if where in ("bot/operator/registration.py", "bot/operator/places.py"):
            continue
        found += [f"{where}:{line}: {call}" for line, call in switch_reads(path.read_text())]
    assert found == []
