"""Lorebook parsing and activation rules, one test per rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.core.errors import ConfigError
from bot.core.persona import load_persona
from bot.core.persona.lorebook import (
    DepthLore,
    activate,
    format_lore,
    load_lorebook,
    lorebook_from_dict,
    lorebook_to_dict,
    persona_world,
    placed_lore,
)
from bot.core.persona.model import Lorebook, LoreEntry, Persona
from bot.core.tokens import count_tokens

DATA = Path(__file__).parent / "data" / "persona"


def book(*entries: LoreEntry, scan_depth: int = 4, token_budget: int = 1024) -> Lorebook:
    return Lorebook(entries=entries, scan_depth=scan_depth, token_budget=token_budget)


def entry(keys: tuple[str, ...], content: str, **kw: object) -> LoreEntry:
    return LoreEntry(keys=keys, content=content, **kw)  # type: ignore[arg-type]


def contents(entries: list[LoreEntry]) -> list[str]:
    return [e.content for e in entries]


def test_key_in_recent_messages_activates_case_insensitively() -> None:
    lb = book(entry(("Dragon",), "Dragons hoard brass."), entry(("unicorn",), "Unicorns are rare."))
    assert contents(activate(lb, ["I saw a DRAGON yesterday"])) == ["Dragons hoard brass."]
    assert contents(activate(lb, ["dragons everywhere"])) == ["Dragons hoard brass."]  # substring match
    assert activate(lb, ["nothing to see"]) == []


def test_case_sensitive_entries_need_exact_case() -> None:
    lb = book(entry(("Rook",), "Rook is the innkeeper.", case_sensitive=True))
    assert activate(lb, ["the rook flew off"]) == []
    assert contents(activate(lb, ["ask Rook"])) == ["Rook is the innkeeper."]


def test_only_the_last_scan_depth_messages_are_scanned() -> None:
    lb = book(entry(("comet",), "The comet returns every 80 years."), scan_depth=2)
    assert activate(lb, ["the comet!", "hello", "how are you"]) == []
    assert len(activate(lb, ["hello", "the comet!", "how are you"])) == 1
    assert activate(book(entry(("comet",), "x"), scan_depth=0), ["comet"]) == []


def test_keys_never_match_across_two_messages() -> None:
    lb = book(entry(("red moon",), "A red moon means war."))
    assert activate(lb, ["it was red", "moon rising"]) == []
    assert len(activate(lb, ["a red moon rising"])) == 1


def test_selective_entries_need_a_secondary_key() -> None:
    lb = book(
        entry(("bridge",), "The bridge is closed at night.", selective=True, secondary_keys=("night", "dark"))
    )
    assert activate(lb, ["crossing the bridge"]) == []
    assert len(activate(lb, ["crossing the bridge after dark"])) == 1
    assert len(activate(lb, ["it's dark", "the bridge"])) == 1  # keys may sit in different scanned messages
    # Selective without secondary keys behaves like a plain entry.
    plain = book(entry(("bridge",), "Bridges.", selective=True))
    assert len(activate(plain, ["the bridge"])) == 1


def test_selective_logic_from_extensions() -> None:
    def lb(logic: int) -> Lorebook:
        return book(
            entry(
                ("bridge",),
                "B.",
                selective=True,
                secondary_keys=("night", "dark"),
                extensions={"selectiveLogic": logic},
            )
        )

    msg = ["the bridge at night"]
    assert len(activate(lb(0), msg)) == 1  # AND ANY
    assert len(activate(lb(1), msg)) == 1  # NOT ALL (dark is missing)
    assert activate(lb(2), msg) == []  # NOT ANY
    assert activate(lb(3), msg) == []  # AND ALL
    assert len(activate(lb(3), ["the bridge at night, so dark"])) == 1


def test_constant_entries_always_activate() -> None:
    lb = book(entry(("x",), "Always here.", constant=True), entry((), "Keyless constant.", constant=True))
    assert contents(activate(lb, [])) == ["Always here.", "Keyless constant."]


def test_disabled_entries_never_activate() -> None:
    lb = book(
        entry(("ghost",), "Boo.", enabled=False),
        entry(("ghost",), "Always boo.", enabled=False, constant=True),
    )
    assert activate(lb, ["a ghost!"]) == []


def test_result_is_ordered_by_insertion_order() -> None:
    lb = book(
        entry(("a",), "third", insertion_order=30),
        entry(("a",), "first", insertion_order=10),
        entry(("a",), "second", insertion_order=20),
        entry(("a",), "also second", insertion_order=20),
    )
    assert contents(activate(lb, ["a"])) == ["first", "second", "also second", "third"]


def test_token_budget_drops_lowest_priority_whole_entries() -> None:
    long = "The archive holds " + "dusty scrolls and " * 20 + "one map."
    e_high = entry(("archive",), long, priority=50, insertion_order=30)
    e_mid = entry(("archive",), "The archivist is called Ilse.", priority=20, insertion_order=10)
    e_low = entry(("archive",), "The archive smells of cedar.", priority=1, insertion_order=20)
    lb = book(e_high, e_mid, e_low)
    everything = sum(count_tokens(e.content) for e in (e_high, e_mid, e_low))
    assert contents(activate(lb, ["the archive"], token_budget=everything)) == [
        e_mid.content,
        e_low.content,
        long,
    ]
    budget = count_tokens(long) + count_tokens(e_mid.content)
    kept = activate(lb, ["the archive"], token_budget=budget)
    assert contents(kept) == [e_mid.content, long]  # lowest priority dropped, order kept
    # An entry is never truncated: when it doesn't fit it is left out and smaller ones still may fit.
    small = activate(lb, ["the archive"], token_budget=count_tokens(long) - 1)
    assert contents(small) == [e_mid.content, e_low.content]
    assert all(e.content in (long, e_mid.content, e_low.content) for e in small)


def test_lorebook_budget_is_the_default() -> None:
    lb = book(
        entry(("k",), "one two three four five six seven eight nine ten", priority=1),
        entry(("k",), "short", priority=2),
        token_budget=3,
    )
    assert contents(activate(lb, ["k"])) == ["short"]
    assert len(activate(lb, ["k"], token_budget=1000)) == 2


def test_regex_and_whole_word_keys() -> None:
    lb = book(
        entry(("/colou?r/i",), "Colours."), entry(("cat",), "Cats.", extensions={"match_whole_words": True})
    )
    assert contents(activate(lb, ["What COLOR is it?"])) == ["Colours."]
    assert activate(lb, ["concatenate"]) == []
    assert contents(activate(lb, ["my cat, Miso"])) == ["Cats."]
    assert activate(book(entry(("/([/",), "broken regex")), ["(["]) == []  # a broken regex never matches


def test_world_info_file_with_dict_entries() -> None:
    lb = load_lorebook(DATA / "world_info.json")
    assert lb.name == "Harbour world" and len(lb.entries) == 3
    harbour, lantern, ghost = lb.entries
    assert (
        harbour.keys == ("harbour", "harbor")
        and harbour.insertion_order == 50
        and harbour.name == "The harbour"
    )
    assert harbour.extensions["uid"] == 0 and harbour.extensions["depth"] == 4  # unmodelled fields kept
    assert lantern.selective and lantern.secondary_keys == ("red", "crimson") and not lantern.case_sensitive
    assert not ghost.enabled
    assert contents(activate(lb, ["a red lantern over the harbor"])) == [lantern.content, harbour.content]
    assert activate(lb, ["a ghost"]) == []


def test_character_book_list_entries_and_round_trip() -> None:
    card = json.loads((DATA / "card_v2.json").read_text())
    lb = lorebook_from_dict(card["data"]["character_book"], "card_v2.json", "data.character_book")
    assert (lb.scan_depth, lb.token_budget, lb.name) == (3, 300, "Vell")
    assert lb.entries[0].extensions == {"position": 0, "probability": 100, "custom": {"x": "y"}}
    again = lorebook_from_dict(lorebook_to_dict(lb), "x.json")
    assert again == lb


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({}, "entries"),
        ({"entries": 5}, "entries"),
        ({"entries": [{"keys": ["a"]}]}, "entries[0].content"),
        ({"entries": [{"keys": "a", "content": "x", "enabled": "yes"}]}, "entries[0].enabled"),
        (
            {"entries": [{"keys": ["a"], "content": "x", "insertion_order": 1.5}]},
            "entries[0].insertion_order",
        ),
        ({"entries": {"7": {"key": [3], "content": "x"}}}, "entries.7.key"),
        ({"entries": [], "scan_depth": -1}, "scan_depth"),
    ],
)
def test_errors_name_file_and_field(data: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        lorebook_from_dict(data, "lore.json")
    assert info.value.file == "lore.json" and info.value.key == key


def test_lorebook_file_in_any_character_folder(tmp_path: Path) -> None:
    (tmp_path / "lorebook.json").write_text((DATA / "world_info.json").read_text())
    p = load_persona(tmp_path, {"core_prompt": "You are {{char}}.", "default_name": "Gull"})
    assert p.lorebook is not None and len(p.lorebook.entries) == 3
    text = placed_lore(p, ["the harbour is cold"], "Sam").beside_char
    assert "freezes over every midwinter" in text
    assert format_lore([]) == "" and placed_lore(p, ["nothing"]).beside_char == ""
    (tmp_path / "lorebook.json").write_text("{oops")
    with pytest.raises(ConfigError) as info:
        load_persona(tmp_path, {"core_prompt": "x"})
    assert info.value.file == str(tmp_path / "lorebook.json")


def test_v3_use_regex_entries() -> None:
    lb = lorebook_from_dict(
        {
            "entries": [
                {"keys": ["gr[ae]y"], "content": "Grey.", "use_regex": True},
                {"keys": ["/bl(ue)?/"], "content": "Blue.", "use_regex": True},
            ]
        },
        "x.json",
    )
    assert lb.entries[0].keys == ("/gr[ae]y/",) and lb.entries[1].keys == ("/bl(ue)?/",)
    assert contents(activate(lb, ["a GRAY sky"])) == ["Grey."]


# --------------------------------------------------------------------------- placement (issue 44, item 6)


def test_position_depth_and_role_are_read_from_world_info_and_card_entries() -> None:
    world_info = lorebook_from_dict({"entries": {
        "0": {"key": ["a"], "content": "A", "position": 4, "depth": 2, "role": 1},
        "1": {"key": ["b"], "content": "B", "position": 1},
        "2": {"key": ["c"], "content": "C", "position": 3},
        "3": {"key": ["d"], "content": "D"},
    }}, "wi.json")
    assert [(e.position, e.depth, e.role) for e in world_info.entries] == [
        ("at_depth", 2, "user"), ("after_char", 4, "system"), ("an_bottom", 4, "system"),
        ("before_char", 4, "system")]
    card = lorebook_from_dict({"entries": [
        {"keys": ["a"], "content": "A", "position": "after_char"},
        {"keys": ["b"], "content": "B", "position": "before_char",
         "extensions": {"position": 4, "depth": 0, "role": 2}},
        {"keys": ["c"], "content": "C", "position": "sideways", "extensions": {"depth": -3, "role": 9}},
    ]}, "card.json")
    assert [(e.position, e.depth, e.role) for e in card.entries] == [
        ("after_char", 4, "system"), ("at_depth", 0, "assistant"), ("before_char", 4, "system")]
    # Exported as SillyTavern writes them: the spec's two places, the others' numbers in extensions.
    exported = lorebook_to_dict(card)["entries"]
    assert exported[0]["position"] == "after_char" and exported[1]["position"] == "before_char"
    assert exported[1]["extensions"] == {"position": 4, "depth": 0, "role": 2}
    again = lorebook_from_dict(lorebook_to_dict(card), "again.json")
    assert [(e.position, e.depth, e.role) for e in again.entries] == [
        (e.position, e.depth, e.role) for e in card.entries]


def test_lore_is_handed_to_the_layout_by_its_place() -> None:
    lb = book(
        entry(("harbour",), "Before.", position="before_char"),
        entry(("harbour",), "After.", position="after_char", insertion_order=5),
        entry(("harbour",), "Deep.", position="at_depth", depth=3, role="user"),
        entry(("harbour",), "Last.", position="at_depth", depth=0),
        entry(("harbour",), "Top.", position="an_top"),
        entry((), "Always near.", constant=True, position="after_char"),
        entry((), "Always deep.", constant=True, position="at_depth", depth=1),
    )
    persona = Persona(name="Wren", system_prompt="You are Wren.", lorebook=lb)
    placed = placed_lore(persona, ["the harbour at night"], "Sam")
    assert placed.beside_char == "After.\n\nBefore."  # insertion order
    assert placed.notes_top == "Top." and placed.notes_bottom == ""
    assert placed.at_depth == (DepthLore(3, "user", "Deep."), DepthLore(1, "system", "Always deep."),
                               DepthLore(0, "system", "Last."))
    assert persona_world(persona, "x") == "" and persona_world(persona, "x", after=True) == "Always near."


# --------------------------------------------------------------------------- a large book


def _large_book(keys: int, *, extra: tuple[LoreEntry, ...] = ()) -> Lorebook:
    """``keys`` made-up plain keys (two an entry), past the size where each key is searched alone."""
    entries = tuple(entry((f"zorvath{n}qu", f"mel {n} dune"), f"Entry {n}.", case_sensitive=n % 5 == 0,
                          extensions={"match_whole_words": True} if n % 3 == 0 else {})
                    for n in range(keys // 2))
    return Lorebook(entries=entries + extra, token_budget=100_000)


def test_a_large_book_finds_what_each_key_searched_alone_finds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past EACH_KEY_LIMIT plain keys one pass over the text finds them all (an automaton): it finds exactly
    what each key's own search finds, overlapping keys, case, whole words and accents included."""
    import random

    from bot.core.persona import lorekeys

    rng = random.Random(7)
    pieces = ["dragon", "Dragonfly", "fly", "on", "c++", "Mr. Rook", "rook", "ÉCLAIR", "éclair", "straße",
              "a", "sea serpent", "Sea", "x_y", "naïve"]
    entries = tuple(entry((key,), f"about {key}", case_sensitive=rng.random() < 0.3,
                          extensions={"match_whole_words": rng.random() < 0.5})
                    for key in pieces for _ in range(3))
    lb = book(*entries)
    monkeypatch.setattr(lorekeys, "EACH_KEY_LIMIT", 10_000)
    alone = lorekeys.KeyIndex(lb)
    monkeypatch.setattr(lorekeys, "EACH_KEY_LIMIT", 0)
    together = lorekeys.KeyIndex(lb)
    assert alone.each is not None and together.large
    filler = ["the", " ", ".", ",", "\n", "_", "é", "1", "-", "+"]
    for _ in range(400):
        text = "".join(rng.choice(pieces + filler) for _ in range(rng.randint(0, 12)))
        if rng.random() < 0.5:
            text = "".join(c.upper() if rng.random() < 0.3 else c for c in text)
        assert together.found(text) == alone.found(text), text


def test_a_large_book_matches_an_empty_key_as_a_small_book_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty key (a book made in code; files drop them) cannot be a word of the automaton: it is searched
    alone, as a small book's keys are, whole word or not, in either case."""
    from bot.core.persona import lorekeys

    lb = book(*(entry((key,), f"about {key!r}", case_sensitive=case, extensions={"match_whole_words": whole})
                for key in ("", "  ", "gull") for case in (True, False) for whole in (True, False)))
    monkeypatch.setattr(lorekeys, "EACH_KEY_LIMIT", 10_000)
    alone = lorekeys.KeyIndex(lb)
    monkeypatch.setattr(lorekeys, "EACH_KEY_LIMIT", 0)
    together = lorekeys.KeyIndex(lb)
    assert together.large
    for text in ("", " ", "a", "a gull.", "gulls", "GULL!", "\n"):
        assert together.found(text) == alone.found(text), text


def test_a_large_book_is_prepared_once_and_matched_off_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """3,000 keys: the first reply prepares the book; the next ones compile nothing (a key cache smaller
    than the book recompiled most of its keys at every reply), and the matching is a worker thread's."""
    import re

    import regex

    from bot.core.persona import lorekeys

    lb = _large_book(3000, extra=(entry(("lighthouse",), "The lighthouse is dark."),))
    assert lorekeys.needs_thread(lb)  # not prepared yet: its first reply prepares it off the loop
    first = activate(lb, ["zorvath3qu and the Lighthouse"])
    assert contents(first) == ["Entry 3.", "The lighthouse is dark."]
    compiled: list[str] = []
    for module in (re, regex):
        real = module.compile
        monkeypatch.setattr(module, "compile", lambda p, f=0, _real=real, **kw: compiled.append(p) or _real(
            p, f, **kw))
    found = activate(lb, ["mel 10 dune, melt 11 dunes", "ZORVATH5QU", "zorvath6qu", "zorvath9qux"])
    # 10 in its own case (5 is not), 6 as a whole word (9 is not one there)
    assert contents(found) == ["Entry 6.", "Entry 10."]
    assert compiled == []
    assert lorekeys.needs_thread(lb)  # large: one pass in Python per reply, in a worker thread
    small = book(entry(("comet",), "A comet."))
    activate(small, ["comet"])
    assert not lorekeys.needs_thread(small)  # a few keys, prepared: searched at C speed on the loop
