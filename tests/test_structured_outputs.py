"""Fact extraction held to a strict JSON schema where the model supports structured outputs (issue 48): the
request carries ``output_config.format``, the fake Claude checks it as the API does and answers JSON under it,
and the parse failures and retries a prose answer causes without it do not happen with it."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import pytest

from bot.core.character import CharacterSource
from bot.core.claude import ClaudeClient
from database.store import Store
from memory.consolidation import Consolidator
from memory.facts import EXTRACTION_SCHEMA, parse_extraction
from tests.fakes.claude_models import conforms, least, lineup_capabilities
from tests.fakes.claude_server import FakeClaude
from tests.memory_support import FINN, HashEmbedder, is_extraction, memory_settings, seen

ALICE = 5


def test_the_extraction_schema_is_strict_and_what_the_parser_reads() -> None:
    answer = {"facts": [{"fact": "Alice sells kites", "category": "work", "lasting": True,
                         "said": "2026-05-01", "happened": None}], "relationship": {"rapport": 0.5}}
    assert conforms(answer, EXTRACTION_SCHEMA)
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
    claude = ClaudeClient(config, store)
    try:
        report = await Consolidator(store, claude, config.memory, config.character_name_slug,
                                    CharacterSource(FINN, None, environ={}).current,
                                    HashEmbedder()).run(set_mood=False)
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
