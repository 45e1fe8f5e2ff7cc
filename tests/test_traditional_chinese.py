"""Chinese in Traditional characters (``zh_Hant``, Taiwan's usage) as a line language: its catalog, which
script a text is in (bot/core/language.py ``chinese_script``), and how a person's, a client's and a server's
language come to it (bot/core/i18n.py, bot/core/locales.py), while what reads a person's words stays on
Chinese ("zh"). Over the wire: tests/test_traditional_chinese_wire.py."""

from __future__ import annotations

import re

import hanzidentifier
import pytest
from babel.messages.pofile import read_po

from bot.alive import style
from bot.core.i18n import (
    DOMAIN,
    language_name,
    language_named,
    language_of,
    language_written,
    listed,
    t,
    tn,
)
from bot.core.language import chinese_script, detect
from bot.core.locales import (
    LINE_LANGUAGES,
    TRADITIONAL_CHINESE,
    base_language,
    catalog_path,
    language_of_locale,
    spoken,
)
from bot.core.numbers import number
from bot.discord.language import client_language
from bot.features.polls.lifecycle import CUSTOM_ID_PATTERN as POLL_ID
from bot.features.polls.lifecycle import custom_id, poll_language
from bot.features.servertools.tickets import CUSTOM_ID_PATTERN as TICKET_ID
from bot.features.servertools.tickets import carried_language, close_id


def strings(language: str) -> dict[object, tuple[str, ...]]:
    with catalog_path(language, DOMAIN).open("rb") as source:
        catalog = read_po(source, locale=language, domain=DOMAIN)
    return {m.id: (m.string if isinstance(m.string, tuple) else (m.string,)) for m in catalog if m.id}


# ------------------------------------------------------------------------------------------------ the catalog


def test_the_traditional_catalog_holds_every_chinese_line_in_traditional_characters() -> None:
    simplified, traditional = strings("zh"), strings(TRADITIONAL_CHINESE)
    assert set(traditional) == set(simplified) and len(traditional) > 600
    differs = 0
    for msgid, forms in traditional.items():
        for form in forms:
            assert hanzidentifier.identify(form) not in (hanzidentifier.SIMPLIFIED, hanzidentifier.MIXED), (
                msgid, form)
        differs += forms != simplified[msgid]
    assert differs > len(traditional) // 2  # a converted catalog, not the Simplified one copied


def test_the_traditional_catalog_says_what_taiwans_discord_client_says() -> None:
    every = "\n".join(form for forms in strings(TRADITIONAL_CHINESE).values() for form in forms)
    for taiwan in ("伺服器", "頻道", "身分組", "討論串", "私人訊息", "指令", "權限", "使用者"):
        assert taiwan in every, taiwan
    # the converter's slips and mainland words, none left
    for wrong in ("語音訊道", "許可權", "全域性", "身份組", "子區", "私信", "命令", "帖子", "賬"):
        assert wrong not in every, wrong


# ------------------------------------------------------------------------------------------ which script


@pytest.mark.parametrize(("text", "script"), [
    ("我們今天去看電影吧", "Hant"),
    ("我们今天去看电影吧", "Hans"),
    ("你覺得這部電影怎麼樣？", "Hant"),
    ("你觉得这部电影怎么样？", "Hans"),
    ("頭髮剪短了，感覺輕鬆多了", "Hant"),
    ("臺灣的夜市真的很好逛", "Hant"),
    ("台湾的夜市真的很好逛", "Hans"),
    ("這個不过我可能会迟到", "Hans"),  # both: the script more of its characters are only in
    ("謝謝你昨天陪我聊天，說了好多話", "Hant"),
    ("你好", None),  # characters both scripts write
    ("哈哈哈", None),
    ("hello there", None),
    ("", None),
])
def test_the_script_of_chinese_text(text: str, script: str | None) -> None:
    assert chinese_script(text) == script


def test_the_language_of_what_a_person_writes_says_traditional_and_reading_stays_chinese() -> None:
    assert language_of("你覺得這部電影怎麼樣？") == TRADITIONAL_CHINESE
    assert language_of("你觉得这部电影怎么样？") == "zh"
    assert language_of("你好") == "zh"  # it does not tell: Chinese's own catalog
    assert detect("你覺得這部電影怎麼樣？") == "zh"  # memory, tokens, voice, time words: Chinese


def test_a_writing_profile_of_traditional_chinese_says_traditional() -> None:
    profile = None
    for said in ("我們今天去看電影吧", "你覺得這部電影怎麼樣？", "好啊", "謝謝你陪我聊天"):
        profile = style.learn(profile, said)
    assert profile is not None and profile.languages == {"zh": 1.0} and profile.traditional == 1.0
    assert language_written(profile.to_json()) == TRADITIONAL_CHINESE
    assert language_written(profile.to_json(), any_known=True) == "zh"  # a transcription's hint: Chinese
    simplified = None
    for said in ("我们今天去看电影吧", "你觉得这部电影怎么样？", "谢谢你陪我聊天"):
        simplified = style.learn(simplified, said)
    assert simplified is not None and language_written(simplified.to_json()) == "zh"
    # a profile stored before the share was kept: Chinese, as it was
    assert language_written('{"messages": 5, "languages": {"zh": 1.0}}') == "zh"
    assert style.StyleProfile.from_json(profile.to_json()).traditional == 1.0


# ---------------------------------------------------------------------- locales, tags, names, settings


def test_locales_and_tags_of_traditional_chinese() -> None:
    assert language_of_locale("zh-TW") == TRADITIONAL_CHINESE
    assert client_language("zh-TW") == TRADITIONAL_CHINESE
    assert language_of_locale("zh-CN") == "zh" and client_language("zh-CN") == "zh"
    for tag in ("zh_Hant", "zh-Hant", "zh-Hant-TW", "zh-TW", "zh-HK", "zh_Hant_HK"):
        assert spoken(tag) == TRADITIONAL_CHINESE, tag
        assert base_language(tag) == "zh", tag
    for tag in ("zh", "zh-CN", "zh-Hans", "zh-Hans-TW"):
        assert spoken(tag) == "zh", tag
    assert TRADITIONAL_CHINESE in LINE_LANGUAGES


@pytest.mark.parametrize("name", ["繁體中文", "Traditional Chinese", "zh-TW", "zh-Hant", "中文 (繁體)",
                                  "chinois traditionnel"])
def test_a_server_may_name_traditional_chinese(name: str) -> None:
    assert language_named(name) == TRADITIONAL_CHINESE
    assert language_named(name, any_known=True) == "zh"


def test_simplified_or_plain_chinese_names_stay_chinese() -> None:
    for name in ("中文", "Chinese", "简体中文", "zh-CN", "zh"):
        assert language_named(name) == "zh", name


def test_lines_numbers_dates_and_lists_in_traditional_chinese() -> None:
    assert t(TRADITIONAL_CHINESE, "our DMs") == "私人訊息"
    assert t("zh", "our DMs") == "私信"
    assert t("zh-TW", "our DMs") == "私人訊息"
    assert tn(TRADITIONAL_CHINESE, "{count} message", "{count} messages", 3) == "3 則訊息"
    assert language_name("de", TRADITIONAL_CHINESE) == "德文"
    assert language_name("de", "zh") == "德语"
    assert listed(TRADITIONAL_CHINESE, ["甲", "乙", "丙"]) == "甲、乙和丙"
    assert number(1234567.5, TRADITIONAL_CHINESE) == "1,234,567.5"


def test_buttons_carry_the_traditional_language() -> None:
    poll = custom_id(7, 2, TRADITIONAL_CHINESE)
    found = re.fullmatch(POLL_ID, poll)
    assert found is not None and poll_language(found["language"]) == TRADITIONAL_CHINESE
    ticket = close_id(5, TRADITIONAL_CHINESE)
    found = re.fullmatch(TICKET_ID, ticket)
    assert found is not None and carried_language(found["language"]) == TRADITIONAL_CHINESE
