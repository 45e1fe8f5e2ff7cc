"""A model id that does not exist is found at start-up, not at the first reply (issue 46): each configured
Claude model is checked against the fake's models list (paged as the real API pages it); a surely wrong id
stops main.py with one line naming the file, the key and the closest real id (exit 2); a list that cannot
be read is a warning; and a permanent error's fallback is answered at once, without the typing pause."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.models.listed import accepted, closest
from tests.fakes.claude_server import LISTED_MODELS
from tests.harness import Harness
from tests.test_startup import check_at_start_up, exit_of, lines_of, start_fakes


def test_aliases_of_listed_ids_are_accepted_and_typos_are_not() -> None:
    listed = list(LISTED_MODELS)
    for alias in ("claude-sonnet-4-5", "claude-sonnet-4-5-20250929", "claude-3-7-sonnet-latest",
                  "claude-opus-4-0", "claude-sonnet-5-5", "claude-haiku-4-5"):
        assert accepted(alias, listed), alias
    for wrong in ("claude-sonet-4-5", "gpt-4o", "claude-sonnet-5-6", "claude-sonnet-4-5-2025"):
        assert not accepted(wrong, listed), wrong
    assert closest("claude-sonet-4-5", listed) == "claude-sonnet-4-5"  # the undated alias, as written
    assert closest("claude-opus-5.5", listed) == "claude-opus-5-5"
    assert closest("gpt-4o", listed).startswith("claude-")  # always a real id to copy


@pytest.mark.parametrize(("model", "meant"), [("claude-sonet-4-5", "claude-sonnet-4-5"),
                                              ("claude-opus-5.5", "claude-opus-5-5")])
async def test_a_model_id_that_does_not_exist_stops_start_up_naming_the_closest(tmp_path: Path, model: str,
                                                                                meant: str) -> None:
    h = await start_fakes(tmp_path)
    config = tmp_path / "config.env"
    config.write_text(f"premium_model={model}\n")
    code, output = await exit_of(h, "--config", str(config), drop={"premium_model"})
    assert code == 2, output
    assert "Traceback" not in output
    [line] = lines_of(output)
    assert line == (f"config error: {config}: premium_model: {model} is not a model {h.claude.base_url} "
                    f"serves (did you mean {meant}?)")
    assert h.claude.model_lists == 1 and h.claude.requests == []  # found before any message


async def test_another_vendors_model_in_the_environment_stops_start_up(tmp_path: Path) -> None:
    h = await start_fakes(tmp_path)
    code, output = await exit_of(h, DEFAULT_MODEL="gpt-4o")
    assert code == 2, output
    [line] = lines_of(output)
    # Not "did you mean claude-opus-4" (spelled nearest "gpt-4o"): a Claude id to use, or the other backend.
    assert line == (f"config error: environment: default_model: gpt-4o is not a model {h.claude.base_url} "
                    "serves (not a Claude model: use a Claude id such as claude-sonnet-5-5, or "
                    "llm_backend=openai for an OpenAI-compatible server)")


async def test_declared_ids_and_aliases_pass(db_url: str, tmp_path: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    """The harness's claude-test-* names are declared in model_capabilities (a proxy's own names); the
    defaults it does not set (summary_model: the default model's) and aliases pass without a word."""
    h = Harness(db_url=db_url, tmp_path=tmp_path, config={"voting_model": "claude-haiku-4-5"})
    warnings = await check_at_start_up(h, caplog)
    assert h.bot is not None and h.bot.services.claude.wrong_models == []
    assert warnings == [] and h.claude.model_lists == 1


async def test_a_models_list_that_cannot_be_read_is_a_warning(db_url: str, tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    h = Harness(db_url=db_url, tmp_path=tmp_path, config={"premium_model": "claude-sonet-4-5"})
    h.claude.fail_all(500)  # the list answers 500: nothing can be judged, so nothing stops start-up
    [warning] = await check_at_start_up(h, caplog)
    assert warning.startswith(f"anthropic backend: {h.claude.base_url} answered its models list with "
                              "HTTP 500")
    assert warning.endswith("the configured model ids are not checked")


async def test_a_permanent_errors_fallback_goes_out_at_once(db_url: str, tmp_path: Path) -> None:
    """A 404 (the model does not exist) is not retried and no typing pause brings an answer closer: the
    fallback arrives at once (the pause here is ten minutes, far past the wait: a paced one never would)."""
    h = Harness(db_url=db_url, tmp_path=tmp_path,
                config={"min_typing_time": "600", "max_typing_time": "600", "typing_speed_cpm": "1"})
    try:
        await h.start()
        h.claude.script(status=404, error_type="not_found_error", model="claude-test-default", times=None)
        await h.dm("hello?")
        [reply] = await h.replies(await h.dm_channel_id())
        assert reply["content"] == h.settings().replies.fallback_reply.replace("{name}", "Finn")
        assert [r.status for r in h.claude.requests if r.model == "claude-test-default"] == [404]
    finally:
        await h.close()
