"""Traditional Chinese over the wire: a Discord client set to zh-TW reads Kindred's own lines in Traditional
characters (a refusal, /forget_me's consent dialog, /status's answer) while one set to zh-CN still reads
them in Simplified ones; a person who writes Traditional Chinese gets the line said when Claude fails in
Traditional, and one who writes Simplified in Simplified. Each line is compared with its catalog's and its
script read back with bot/core/language.py ``chinese_script``."""

from __future__ import annotations

from bot.core.config.sections import ReplySettings
from bot.core.i18n import t
from bot.core.language import chinese_script
from bot.core.locales import TRADITIONAL_CHINESE
from tests.fakes.discord_lead import panel_texts
from tests.harness import USER_ID, Harness, MakeHarness, ephemeral
from tests.test_activation import bot_command
from tests.test_every_language import dialog
from tests.test_user_commands import seed

LOCALES = {"zh-TW": TRADITIONAL_CHINESE, "zh-CN": "zh"}
SCRIPTS = {TRADITIONAL_CHINESE: "Hant", "zh": "Hans"}
FIRST_USER = 900_000_000_000_002_000


async def test_a_refusal_is_in_the_script_of_the_clients_chinese(harness: Harness) -> None:
    h = harness
    for locale, language in LOCALES.items():
        h.discord.set_locale(USER_ID, locale)
        text = await bot_command(h, "deactivate", user=USER_ID)
        assert text == t(language, "Only the bot's admins can use this command."), (locale, text)
        assert chinese_script(text) == SCRIPTS[language], (locale, text)
    said = t(TRADITIONAL_CHINESE, "Only the bot's admins can use this command.")
    assert said == "只有機器人的管理員可以使用此指令。"


async def test_the_consent_dialog_is_in_the_script_of_the_clients_chinese(harness: Harness) -> None:
    seen = {}
    for locale, language in LOCALES.items():
        question, buttons, cancelled = await dialog(harness, locale)
        assert cancelled == t(language, "Cancelled: nothing was deleted."), (locale, cancelled)
        assert buttons == [t(language, "Yes, delete everything"), t(language, "Cancel")], (locale, buttons)
        for line in (question, cancelled):
            assert chinese_script(line) == SCRIPTS[language], (locale, line)
        seen[locale] = question
    assert seen["zh-TW"] != seen["zh-CN"]
    assert "儲存" in seen["zh-TW"] and "保存" in seen["zh-CN"]


async def test_status_answers_in_the_script_of_the_clients_chinese(harness: Harness) -> None:
    h = harness
    await seed(h, 1)
    titles = {"zh-TW": "### 你與Finn的狀態", "zh-CN": "### 你与Finn的状态"}
    for locale, language in LOCALES.items():
        h.discord.set_locale(USER_ID, locale)
        texts = panel_texts(await ephemeral(await h.slash("status")))
        assert texts[0] == titles[locale] == "### " + t(language, "Your status with {character}",
                                                           character="Finn"), texts[0]


async def test_the_fallback_line_is_in_the_script_a_person_writes(make_harness: MakeHarness) -> None:
    h = await make_harness(llm_timeout="0.6")
    h.claude.fail_all(529)
    said = {TRADITIONAL_CHINESE: "嘿，你還記得我們昨天聊過的那部電影嗎？",
            "zh": "嘿，你还记得我们昨天聊过的那部电影吗？"}
    for k, (language, text) in enumerate(said.items()):
        user = FIRST_USER + k
        h.discord.add_user(user, f"person{k}")
        sent = await h.dm(text, user=user)
        channel = int(sent["channel_id"])
        expected = t(language, ReplySettings.fallback_reply, name="Finn")
        assert chinese_script(expected) == SCRIPTS[language], expected
        await h.discord.wait_for(lambda d, c=channel, e=expected: any(m["content"] == e for m in d.posted(c)),
                                 what=f"the fallback line in {language}")
    h.claude.recover()
