"""Chinese's names in ``/settings language``, over the wire: Taiwan's own name for Traditional Chinese
("正體中文") and the names written with full-width brackets ("中文（繁體）", "中文（简体）") are taken, and a
server set to plain Chinese reads as Simplified ("简体中文", "Simplified Chinese"), apart from Traditional
("繁體中文"), in the confirmation, /settings show and the value's autocomplete. The pure pieces
(bot/core/i18n.py) beside."""

from __future__ import annotations

import pytest

from bot.core.i18n import folded, language_name, language_named, language_tag
from bot.core.locales import TRADITIONAL_CHINESE
from bot.features.servertools.settings import language_options
from tests.harness import ADMIN_ID, GUILD_ID, Harness
from tests.server_support import sub
from tests.test_refusals_zones_and_language_names_i18n import offered
from tests.test_server_settings import setting

# (what the admin types, their client's locale, the confirmation's value, the line language kept)
NAMED = [
    ("正體中文", "zh-TW", "繁體中文", TRADITIONAL_CHINESE),
    ("中文（繁體）", "zh-TW", "繁體中文", TRADITIONAL_CHINESE),
    ("中文（繁体）", "en-US", "Traditional Chinese", TRADITIONAL_CHINESE),
    ("中文（简体）", "zh-CN", "简体中文", "zh"),
    ("中文（簡體）", "zh-TW", "簡體中文", "zh"),
    ("Chinese (Traditional)", "en-US", "Traditional Chinese", TRADITIONAL_CHINESE),
    ("中文", "zh-CN", "简体中文", "zh"),
    ("Chinese", "en-US", "Simplified Chinese", "zh"),
    ("zh-TW", "zh-TW", "中文 (繁體, 台灣)", TRADITIONAL_CHINESE),
]


@pytest.mark.parametrize(("typed", "locale", "value", "line"), NAMED, ids=[n[0] for n in NAMED])
async def test_chinese_is_named_and_shown_by_its_script(harness: Harness, typed: str, locale: str, value: str,
                                                       line: str) -> None:
    h = harness
    h.discord.set_locale(ADMIN_ID, locale)
    said = await setting(h, "language", typed)
    assert "language" in said and f"**{value}**" in said, said
    stored = (await h.store.servers.get(GUILD_ID, fresh=True)).language
    assert language_named(stored) == line, stored
    ix = await h.slash("settings", sub("show"), user=ADMIN_ID)
    fields = {f["name"]: f["value"] for f in (await ix.message())["embeds"][0]["fields"]}
    assert fields["language"].startswith(f"**{value}**"), fields["language"]


async def test_the_autocomplete_offers_simplified_and_traditional_apart(harness: Harness) -> None:
    h = harness
    h.discord.set_locale(ADMIN_ID, "en-US")
    assert await offered(h, "中文") == [("简体中文 (Simplified Chinese)", "zh"),
                                        ("繁體中文 (Traditional Chinese)", TRADITIONAL_CHINESE)]
    assert await offered(h, "正體") == [("繁體中文 (Traditional Chinese)", TRADITIONAL_CHINESE)]
    assert await offered(h, "中文（简") == [("简体中文 (Simplified Chinese)", "zh")]
    h.discord.set_locale(ADMIN_ID, "zh-TW")
    assert await offered(h, "chinese") == [("简体中文 (簡體中文)", "zh"), ("繁體中文", TRADITIONAL_CHINESE)]


def test_names_are_compared_folded() -> None:
    assert folded("中文（繁體）") == folded("中文 (繁體)") == "中文(繁體)"
    assert folded("  Chinese   ( Traditional )") == "chinese(traditional)"
    assert language_tag("ｚｈ－ＴＷ") == "zh-Hant-TW" and language_named("Ｄｅｕｔｓｃｈ") == "de"
    for name in ("正體中文", "正体中文", "中文（繁體）", "中文（繁体）", "Chinese (Traditional)",
                 "chinesisch (traditionell)", "繁體中文"):
        assert language_named(name) == TRADITIONAL_CHINESE, name
    for name in ("中文（简体）", "中文（簡體）", "Chinese (Simplified)", "简体中文", "中文"):
        assert language_named(name) == "zh", name
    assert language_named("Spanish (Spain)") == "es" and language_named("nonsense") is None


def test_chinese_is_shown_with_its_script() -> None:
    assert [language_name("zh", reader) for reader in ("en", "zh", TRADITIONAL_CHINESE, "ja")] == [
        "Simplified Chinese", "简体中文", "簡體中文", "簡体中国語"]
    assert [language_name("zh-Hant", reader) for reader in ("en", "zh", TRADITIONAL_CHINESE)] == [
        "Traditional Chinese", "繁体中文", "繁體中文"]
    assert language_name("zh-Hans-CN", "en") == "Chinese (Simplified, China)"
    assert language_name("de", "zh") == "德语" and language_name("pt-BR", "en") == "Portuguese (Brazil)"
    assert [o for o in language_options("", "en") if o[1].startswith("zh")] == [
        ("简体中文 (Simplified Chinese)", "zh"), ("繁體中文 (Traditional Chinese)", TRADITIONAL_CHINESE)]
