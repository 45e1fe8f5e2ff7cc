"""Fact extraction held to a strict JSON schema where the model supports structured outputs (issue 48): the
request carries ``output_config.format``, the fake Claude checks it as the API does and answers JSON under it,
and the parse failures and retries a prose answer causes without it do not happen with it. The same for the
yes/no votes: a sloppy one-word answer is counted as a parse failure, under the vote schema it cannot be."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import pytest

from bot.core.character import CharacterSource
from bot.core.claude import ClaudeClient, Prompt
from bot.reply.deciding.voting import VOTE_SCHEMA, Ballot
from database.store import Store
from memory.consolidation import Consolidator
from memory.facts import EXTRACTION_SCHEMA, parse_extraction
from tests.fakes.claude_models import conforms, least, lineup_capabilities, read_into
from tests.fakes.claude_server import FakeClaude
from tests.memory_support import FINN, HashEmbedder, is_extraction, memory_settings, seen

ALICE = 5


def test_the_extraction_schema_is_strict_and_what_the_parser_reads() -> None:
    answer = {"facts": [{"action": "add", "id": None, "fact": "Alice sells kites", "category": "work",
                         "lasting": True, "said": "2026-05-01", "happened": None, "past": None,
                         "slot": "work", "value": "kites", "english": None},
                        {"action": "add", "id": None, "fact": "Alice vende cometas", "category": "work",
                         "lasting": True, "said": "2026-05-01", "happened": None, "past": None,
                         "slot": "none", "value": None, "english": "Alice sells kites"}],
              "relationship": {"rapport": 0.5}}
    assert conforms(answer, EXTRACTION_SCHEMA)
    facts = parse_extraction(json.dumps(answer), 1.0).facts
    assert facts[0].slot == "work" and facts[0].english is None
    assert facts[1].english == "Alice sells kites"  # the English wording beside a fact in Spanish
    assert not conforms({"facts": [{"fact": 12}], "relationship": {}}, EXTRACTION_SCHEMA)
    assert not conforms({**answer, "mood": "happy"}, EXTRACTION_SCHEMA)  # additionalProperties false
    empty = least(EXTRACTION_SCHEMA)
    assert conforms(empty, EXTRACTION_SCHEMA) and parse_extraction(json.dumps(empty), 1.0).facts == ()


async def test_the_fake_checks_the_format_as_the_api_does(fake_claude: FakeClaude) -> None:
    client = anthropic.AsyncAnthropic(base_url=fake_claude.base_url, api_key="k", max_retries=0)
    try:
        base = {"model": "claude-sonnet-4-6", "max_tokens": 50,
                "messages": [{"role": "user", "content": "hi"}]}
        loose = {"type": "object", "properties": {"a": {"type": "string"}}}
        with pytest.raises(anthropic.BadRequestError, match="additionalProperties"):
            await client.messages.create(**base, extra_body={"output_config": {  # type: ignore[arg-type]
                "format": {"type": "json_schema", "schema": loose}}})
        with pytest.raises(anthropic.BadRequestError, match="json_schema"):
            await client.messages.create(**base, extra_body={"output_config": {  # type: ignore[arg-type]
                "format": {"type": "text"}}})
        fake_claude.script("Sure! Here is what I found.")
        answer = await client.messages.create(**base, extra_body={"output_config": {  # type: ignore[arg-type]
            "format": {"type": "json_schema", "schema": EXTRACTION_SCHEMA}}})
        assert answer.content[-1].text == '{"facts": [], "relationship": {}}'  # JSON, whatever was scripted
    finally:
        await client.close()


async def extract(store: Store, fc: FakeClaude, message_id: int, **settings: Any) -> tuple[Any, list[Any]]:
    await store.log.log_message(seen(message_id, ALICE, "FACT[work]: Alice sells kites", name="alice"))
    config = memory_settings(store.url, fc.base_url, **settings)
    claude = ClaudeClient(config, store.usage)
    try:
        report = await Consolidator(store, claude, config.memory, config.character_name_slug,
                                    CharacterSource(FINN, None, environ={}).current,
                                    HashEmbedder()).run()
    finally:
        await claude.close()
    return report, [r for r in fc.requests if is_extraction(r.body)]


async def test_a_prose_answer_costs_a_retry_only_without_structured_outputs(store: Store,
                                                                           fake_claude: FakeClaude) -> None:
    answers = iter(["Sure! Alice sells kites, that's the one fact.",
                    '{"facts": [{"fact": "Alice sells kites", "category": "work"}], "relationship": {}}'])
    fake_claude.responder = lambda body: next(answers) if is_extraction(body) else None
    # before: the model answers prose once; the parse fails and the batch is asked again
    report, asked = await extract(store, fake_claude, 1, model_capabilities=lineup_capabilities()
                                  + ",claude-test-default[structured_outputs]=false")
    assert (report.malformed, len(asked), report.committed) == (1, 2, 1)
    assert "output_config" not in asked[0].body or "format" not in asked[0].body["output_config"]

    # after: the same answer under the schema comes back as JSON: no parse failure, no retry
    answers = iter(["Sure! Alice sells kites, that's the one fact."])
    fake_claude.requests.clear()
    report, asked = await extract(store, fake_claude, 2)
    assert (report.malformed, len(asked)) == (0, 1)
    assert asked[0].body["output_config"]["format"] == {"type": "json_schema", "schema": EXTRACTION_SCHEMA}


# What a voting model says when it does not keep to one word: the one-word path reads some of these, not all.
SLOPPY_VOTES = (("yes", True), ("Yes.", True), ("I think yes", True), ("**no**", False),
                ("No, they are talking to Bob.", False), ("Nope", False), ("maybe?", False))


async def votes_on(fake: FakeClaude, url: str, **settings: Any) -> tuple[list[bool | None], ClaudeClient]:
    config = memory_settings(url, fake.base_url, voting_model="claude-test-voter", **settings)
    claude = ClaudeClient(config, None)
    prompt = Prompt(system=[{"type": "text", "text": "Answer with exactly one word: yes or no."}],
                    messages=[{"role": "user", "content": "Should Finn reply to the latest message?"}])
    answers: list[bool | None] = []
    try:
        for said, _ in SLOPPY_VOTES:
            fake.script(said, model="claude-test-voter")
            answers += await Ballot(claude, claude.settings).ask(prompt, count=1, user_id=None, guild_id=None)
    finally:
        await claude.close()
    return answers, claude


async def test_votes_always_parse_under_the_schema_and_the_one_word_failures_are_counted(
        store: Store, fake_claude: FakeClaude) -> None:
    meant = [m for _, m in SLOPPY_VOTES]
    # before: a voting model without structured outputs answers the words themselves; two do not parse
    answers, claude = await votes_on(fake_claude, store.url, model_capabilities=lineup_capabilities()
                                     + ",claude-test-voter[structured_outputs]=false")
    assert answers == [True, True, None, False, False, False, None]
    assert (claude.tally.parse_failures["vote"], claude.tally.parse_retries["vote"]) == (2, 0)
    assert all("format" not in r.body.get("output_config", {}) for r in fake_claude.requests)
    assert "Unparsed answers since start: 2 (vote 2 (0 asked again))" in await claude.status_lines()

    # after: the same words, decoded to the vote schema, come back as JSON that always parses
    fake_claude.requests.clear()
    answers, claude = await votes_on(fake_claude, store.url)
    assert answers == meant and claude.tally.parse_failures["vote"] == 0
    assert [r.text for r in fake_claude.requests][:3] == ['{"vote": "yes"}'] * 3
    assert all(r.body["output_config"]["format"] == {"type": "json_schema", "schema": VOTE_SCHEMA}
               for r in fake_claude.requests)


async def test_the_fake_reads_a_scripted_vote_into_the_schema_and_rejects_an_open_one(
        fake_claude: FakeClaude) -> None:
    assert read_into("**No.**", VOTE_SCHEMA) == {"vote": "no"} and conforms({"vote": "yes"}, VOTE_SCHEMA)
    assert read_into("hmm", VOTE_SCHEMA) == {"vote": "no"} and not conforms({"vote": "Yes."}, VOTE_SCHEMA)
    client = anthropic.AsyncAnthropic(base_url=fake_claude.base_url, api_key="k", max_retries=0)
    try:
        open_vote = {k: v for k, v in VOTE_SCHEMA.items() if k != "additionalProperties"}
        with pytest.raises(anthropic.BadRequestError, match="additionalProperties"):
            await client.messages.create(
                model="claude-haiku-5-5", max_tokens=16, messages=[{"role": "user", "content": "yes?"}],
                extra_body={"output_config": {"format": {"type": "json_schema", "schema": open_vote}}})
    finally:
        await client.close()
