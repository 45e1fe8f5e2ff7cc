"""Every one of the eleven languages over the wire, English the control: a person writing in it gets the
line said when Claude fails in it, and a Discord client set to it gets /forget_me's consent dialog (its
question, its warning, its buttons and its answer) in it. What crosses the wire is read back with the
language detector the bot itself uses (bot/core/language.py), so a line left English, or a catalog entry in
the wrong language, fails here; and it is compared with the catalog's own line, so the routing (which
language was chosen) is checked as well as the translation."""

from __future__ import annotations

import pytest

from bot.core.config.sections import ReplySettings
from bot.core.i18n import t
from bot.core.language import guess
from bot.core.locales import SPOKEN
from tests.harness import USER_ID, Harness, MakeHarness, ephemeral, press
from tests.test_own_lines_localized import labels

# One thing said in each language, as its people write it ("do you remember the film we talked about
# yesterday?").
SAID = {
    "en": "Hey, do you remember the film we talked about yesterday?",
    "es": "Oye, ¿te acuerdas de la película de la que hablamos ayer?",
    "pt": "Ei, você se lembra do filme de que falamos ontem?",
    "de": "Hey, erinnerst du dich an den Film, über den wir gestern gesprochen haben?",
    "fr": "Dis, tu te souviens du film dont on a parlé hier ?",
    "ru": "Слушай, ты помнишь фильм, о котором мы вчера говорили?",
    "pl": "Hej, pamiętasz film, o którym wczoraj rozmawialiśmy?",
    "tr": "Hey, dün konuştuğumuz filmi hatırlıyor musun?",
    "ja": "ねえ、昨日話した映画のこと覚えてる？",
    "ko": "있잖아, 어제 우리가 얘기했던 영화 기억나?",
    "zh": "嘿，你还记得我们昨天聊过的那部电影吗？",
}
# A Discord client's locale for each (Discord's own codes: en-US, es-ES, pt-BR, zh-CN...).
LOCALE = {"en": "en-US", "es": "es-ES", "pt": "pt-BR", "de": "de", "fr": "fr", "ru": "ru", "pl": "pl",
          "tr": "tr", "ja": "ja", "ko": "ko", "zh": "zh-CN"}
FIRST_USER = 900_000_000_000_001_000


def test_the_eleven_are_the_languages_spoken() -> None:
    assert set(SAID) == set(SPOKEN) == set(LOCALE)


def in_language(text: str, code: str) -> bool:
    """Whether the detector reads ``text`` (its markdown and the character's name taken out) as ``code``."""
    plain = text.replace("*", "").replace("Finn", "")
    return guess(plain)[0] == code


async def test_the_fallback_line_is_said_in_each_language_its_person_writes(
        make_harness: MakeHarness) -> None:
    h = await make_harness(llm_timeout="0.6")
    h.claude.fail_all(529)
    english = t("en", ReplySettings.fallback_reply, name="Finn")
    for k, (code, text) in enumerate(SAID.items()):
        user = FIRST_USER + k
        h.discord.add_user(user, f"person{k}")
        sent = await h.dm(text, user=user)
        channel = int(sent["channel_id"])
        expected = t(code, ReplySettings.fallback_reply, name="Finn")
        await h.discord.wait_for(lambda d, c=channel, e=expected: any(m["content"] == e for m in d.posted(c)),
                                 what=f"the fallback line in {code}")
        assert in_language(expected, code), (code, expected)
        assert (expected == english) == (code == "en")
        # nothing English said to them but the control's own
        if code != "en":
            assert all(m["content"] != english for m in h.discord.posted(channel))
    assert h.claude.requests  # the fallback followed the model's failure
    h.claude.recover()


async def dialog(h: Harness, locale: str) -> tuple[str, list[str], str]:
    """/forget_me as a client set to ``locale`` sees it: (its question, its buttons, its answer when
    cancelled)."""
    h.discord.set_locale(USER_ID, locale)
    prompt = await ephemeral(await h.slash("forget_me"))
    question, buttons = prompt["content"], labels(prompt)
    await (await press(h, prompt, "cancel")).response()
    return question, buttons, prompt["content"]


@pytest.mark.parametrize("code", [c for c in SAID if c != "en"])
async def test_forget_me_asks_and_answers_in_each_clients_language(harness: Harness, code: str) -> None:
    english = await dialog(harness, LOCALE["en"])
    question, buttons, cancelled = await dialog(harness, LOCALE[code])
    assert cancelled == t(code, "Cancelled: nothing was deleted.")
    for line in (question, cancelled, " ".join(buttons)):
        assert in_language(line, code), (code, line)
    # none of it the English a client set to English reads
    assert question != english[0] and cancelled != english[2]
    assert not set(buttons) & set(english[1]), (buttons, english[1])
