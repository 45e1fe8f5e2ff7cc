"""Panels in Components V2: the fake Discord's rules for a V2 message (tests/fakes/discord_components.py), and
the panel builder keeping within them whatever it is given (bot/discord/panels.py). /status as a panel over
the wire is in tests/test_user_commands.py."""

from __future__ import annotations

import json
from typing import Any

from bot.discord.panels import MAX_COMPONENTS, MAX_TEXT, panel
from tests.fakes.discord_components import (
    V2_FLAG,
    refuse_components,
    refuse_v2_edit,
    walk_components,
    webhook_components,
)


def text(content: str) -> dict[str, Any]:
    return {"type": 10, "content": content}


def v2(*components: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"flags": V2_FLAG | 64, "components": list(components), **extra}


def refusal(body: dict[str, Any]) -> dict[str, Any] | None:
    """The error body the fake answers (None when it accepts)."""
    refused = refuse_components(body)
    if refused is None:
        return None
    assert refused.status == 400
    return dict(json.loads(refused.text))


def test_the_fake_accepts_a_v2_panel_within_the_rules() -> None:
    container = {"type": 17, "components": [text("### Title"), {"type": 14}, text("a" * 3000),
                                            {"type": 9, "components": [text("b" * 900)],
                                             "accessory": {"type": 2, "style": 2, "label": "x",
                                                           "custom_id": "go"}}]}
    assert refusal(v2(container)) is None
    assert refusal(v2(container, content="", embeds=[])) is None  # empty fields are no content


def test_the_fake_refuses_a_v2_body_with_content_or_embeds() -> None:
    with_content = refusal(v2(text("panel"), content="hello"))
    assert with_content is not None and with_content["code"] == 50035 and "content" in with_content["errors"]
    with_embed = refusal(v2(text("panel"), embeds=[{"title": "old"}]))
    assert with_embed is not None and "embeds" in with_embed["errors"]


def test_the_fake_counts_nested_components_up_to_40() -> None:
    def container(n: int) -> dict[str, Any]:
        return {"type": 17, "components": [text(str(i)) for i in range(n)]}

    assert refusal(v2(container(39))) is None  # 39 displays and their container: 40
    refused = refusal(v2(container(40)))
    assert refused is not None and refused["code"] == 50035


def test_the_fake_refuses_a_text_display_over_4000_characters_and_more_text_in_all() -> None:
    assert refusal(v2(text("x" * 4000))) is None
    one = refusal(v2(text("x" * 4001)))
    assert one is not None and one["code"] == 50035
    together = refusal(v2(text("x" * 2000), text("y" * 2001)))
    assert together is not None and together["code"] == 50035
    assert refusal(v2(text(""))) is not None  # a text display has something to show


def test_the_fake_takes_attachments_of_a_v2_message_only_through_file_or_media_components() -> None:
    shown = {"type": 13, "file": {"url": "attachment://map.png"}}
    gallery = {"type": 12, "items": [{"media": {"url": "attachment://b.png"}}]}
    files = [{"id": "0", "filename": "map.png"}, {"id": "1", "filename": "b.png"}]
    assert refusal(v2(text("see"), shown, gallery, attachments=files)) is None
    refused = refusal(v2(text("see"), shown, attachments=files))  # b.png is shown by nothing
    assert refused is not None and refused["code"] == 50035


def test_layout_components_need_the_flag_and_a_v2_message_keeps_it() -> None:
    assert refusal({"components": [text("no flag")]}) is not None
    panel_message = {"flags": V2_FLAG, "components": [text("panel")]}
    assert refuse_v2_edit(panel_message, {"flags": 0, "content": "plain now"}) is not None
    assert refuse_v2_edit(panel_message, {"content": "text beside it"}) is not None  # still V2: no content
    assert refuse_v2_edit(panel_message, {"components": [text("updated")]}) is None
    assert refuse_v2_edit({"flags": 0}, {"content": "plain"}) is None


def test_a_panel_keeps_within_the_limits_whatever_it_is_given() -> None:
    fields = [(f"Figure {i}", "word " * 400) for i in range(60)]  # 60 figures of 2,000 characters
    body = {"flags": V2_FLAG, "components": panel("A title", fields).to_components()}
    every = walk_components(body["components"])
    assert len(every) <= MAX_COMPONENTS
    assert sum(len(c["content"]) for c in every if c["type"] == 10) <= MAX_TEXT
    assert refuse_components(body) is None
    small = panel("Status", [("Plan", "Standard"), ("Lines", "one\ntwo")]).to_components()
    [container] = small
    assert [c["content"] for c in container["components"] if c["type"] == 10] == [
        "### Status", "**Plan**\nStandard", "**Lines**\none\ntwo"]  # short values keep their line breaks


def test_a_long_list_in_a_panel_keeps_whole_lines() -> None:
    lines = [f"**#{i}** reminder number {i} · in our DMs" for i in range(200)]
    [container] = panel("Your reminders", [("", "hint"), ("", "\n".join(lines))]).to_components()
    listed = container["components"][-1]["content"].splitlines()
    assert listed and all(line in lines for line in listed)  # cut between lines, never mid-line
    assert len(listed) < len(lines) and listed == lines[:len(listed)]


def test_a_webhook_the_app_did_not_create_sends_v2_layouts_without_interactive_components() -> None:
    foreign = {"id": "1", "token": "t", "application_id": None}
    query = {"with_components": "true"}
    _, refused = webhook_components(foreign, v2({"type": 17, "components": [text("report")]}), query)
    assert refused is None
    section = {"type": 9, "components": [text("report")],
               "accessory": {"type": 2, "style": 2, "label": "x", "custom_id": "go"}}
    _, refused = webhook_components(foreign, v2({"type": 17, "components": [section]}), query)
    assert refused is not None  # a button nested in the layout is still interactive
