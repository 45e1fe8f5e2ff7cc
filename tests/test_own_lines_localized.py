"""Kindred's own lines in the reader's language, over the wire: the consent and privacy answers and /settings
in the language the person's Discord client is set to (the interaction's ``locale``), the default lines (the
fallback when Claude fails, a reminder's plain line) in the language the person writes in; English, the
control, as before."""

from __future__ import annotations

from typing import Any

from database.reminders import reminder_key
from tests.fakes.claude_server import Reply
from tests.harness import (
    ADMIN_ID,
    USER2_ID,
    USER_ID,
    Harness,
    MakeHarness,
    bot_posts,
    dm_reply,
    ephemeral,
    press,
)
from tests.server_support import answer, sub
from tests.test_reminders import set_reminder


async def memory(h: Harness, name: str, *, user: int = USER_ID) -> str:
    return await answer(await h.slash("memory", [{"type": 1, "name": name, "options": []}], user=user))


def labels(message: dict[str, Any]) -> list[str]:
    return [c["label"] for row in message.get("components") or [] for c in row.get("components") or []]


# What /forget_me shows (its question, its two buttons) and says when cancelled, by the client's locale.
FORGET_ME = {
    "en-US": ("Delete **everything** Finn has stored about you?", "This cannot be undone.",
              ["Yes, delete everything", "Cancel"], "Cancelled: nothing was deleted."),
    "ja": ("Finnがあなたについて保存している**すべて**を削除しますか？", "この操作は取り消せません。",
           ["はい、すべて削除します", "キャンセル"], "キャンセルしました：何も削除していません。"),
    "es-ES": ("¿Borrar **todo** lo que Finn tiene guardado sobre ti?", "Esto no se puede deshacer.",
              ["Sí, borrar todo", "Cancelar"], "Cancelado: no se borró nada."),
    "de": ("**Alles** löschen, was Finn über dich gespeichert hat?",
           "Das kann nicht rückgängig gemacht werden.", ["Ja, alles löschen", "Abbrechen"],
           "Abgebrochen: Es wurde nichts gelöscht."),
}


async def test_forget_me_asks_and_answers_in_the_clients_language(harness: Harness) -> None:
    h = harness
    for locale, (question, warning, buttons, cancelled) in FORGET_ME.items():
        h.discord.set_locale(USER_ID, locale)
        prompt = await ephemeral(await h.slash("forget_me"))
        content = prompt["content"]
        assert content.startswith(question) and content.endswith(warning), content
        assert labels(prompt) == buttons
        await (await press(h, prompt, "cancel")).response()
        assert prompt["content"] == cancelled
    # Confirmed, the count in the language's plural form.
    h.discord.set_locale(USER_ID, "ja")
    prompt = await ephemeral(await h.slash("forget_me"))
    await (await press(h, prompt, "confirm")).response()
    await h.discord.wait_for(lambda d: "完了" in (prompt.get("content") or ""), what="the outcome")
    assert prompt["content"].startswith("完了：あなたに関する記録を")
    assert prompt["content"].endswith("件削除しました。また話しかけてくれたら、ゼロから始めます。")


async def test_memory_consent_answers_in_the_clients_language(harness: Harness) -> None:
    h = harness
    opted_out = {
        "en-US": "Understood: I no longer keep anything new about you beyond a short-term log",
        "ja": "わかりました。短期ログ以外、あなたについて新しいことは何も残しません",
        "es-ES": "Entendido: ya no guardo nada nuevo sobre ti, salvo un registro a corto plazo",
        "de": "Verstanden: Ich behalte nichts Neues mehr über dich außer einem Kurzzeitprotokoll",
    }
    opted_in = {"en-US": "Thank you: from now on I remember", "ja": "ありがとう。これからは私たちの会話と",
                "es-ES": "Gracias: a partir de ahora recuerdo", "de": "Danke: Ab jetzt merke ich mir"}
    # the commands they quote as the client lists them (tests/test_command_names_i18n.py)
    forget_me = {"en-US": "`/forget_me`", "ja": "`/私を忘れて`", "es-ES": "`/olvidarme`",
                 "de": "`/vergiss_mich`"}
    opt_out = {"en-US": "`/memory opt-out`", "ja": "`/記憶 拒否`", "es-ES": "`/memoria rechazar`",
               "de": "`/gedächtnis ablehnen`"}
    for locale in opted_out:
        h.discord.set_locale(USER_ID, locale)
        said = await memory(h, "opt-out")
        assert said.startswith(opted_out[locale]) and forget_me[locale] in said, said
        assert (await h.store.people.get_user(USER_ID)).memory_consent is False  # type: ignore[union-attr]
        said = await memory(h, "opt-in")
        assert said.startswith(opted_in[locale]) and opt_out[locale] in said, said
    # A locale Kindred has no lines in (Italian) falls back to the language the person writes in, here none
    # known yet: English.
    h.discord.set_locale(USER_ID, "it")
    assert (await memory(h, "opt-out")).startswith(opted_out["en-US"])


async def test_settings_answer_in_the_clients_language(harness: Harness) -> None:
    h = harness
    noted = {"en-US": "*Finn makes a note.* Here, proactive is now **on**.",
             "ja": "*Finnはメモを取る。* ここでは proactive は **on** になりました。",
             "es-ES": "*Finn toma nota.* Aquí, proactive ahora es **on**.",
             "de": "*Finn macht sich eine Notiz.* Hier ist proactive jetzt **on**."}
    titles = {"en-US": "Finn's settings in ", "ja": "でのFinnの設定",
              "es-ES": "Ajustes de Finn en ", "de": "Einstellungen von Finn in "}
    origins = {"en-US": "(set here)", "ja": "(ここで設定)", "es-ES": "(definido aquí)",
               "de": "(hier festgelegt)"}
    refused = {"en-US": "Only this server's admins (the Manage Server permission) can use this command.",
               "ja": "このコマンドはこのサーバーの管理者（サーバー管理権限）だけが使えます。",
               "es-ES": "Solo los administradores de este servidor (el permiso Gestionar servidor) pueden "
                        "usar este comando.",
               "de": "Nur die Admins dieses Servers (die Berechtigung „Server verwalten“) können diesen "
                     "Befehl benutzen."}
    for locale in noted:
        h.discord.set_locale(ADMIN_ID, locale)
        h.discord.set_locale(USER_ID, locale)
        said = await answer(await h.slash("settings", sub("set", key="proactive", value="on"), user=ADMIN_ID))
        assert said == noted[locale]
        shown = await ephemeral(await h.slash("settings", sub("show"), user=ADMIN_ID))
        [embed] = shown["embeds"]
        assert titles[locale] in embed["title"], embed["title"]
        fields = {f["name"]: f["value"] for f in embed["fields"]}
        assert fields["proactive"].startswith(f"**on** {origins[locale]}"), fields["proactive"]
        assert await answer(await h.slash("settings", sub("show"), user=USER_ID)) == refused[locale]


FALLBACK = {
    "ja": "*Finnは一瞬ぼんやりして、まばたきをする。* ごめんね、考えがまとまらなくて。もう一度言ってくれる？",
    "es": "*Finn parpadea, con la mente en otra parte por un momento.* Perdona, se me fueron las ideas. "
          "¿Me lo puedes repetir?",
}


async def test_the_fallback_line_is_in_the_language_the_person_writes(make_harness: MakeHarness) -> None:
    h = await make_harness(llm_timeout="0.6")
    h.claude.fail_all(529)
    japanese = await h.dm("ねえ、昨日話した映画のこと覚えてる？", user=USER_ID)
    [said] = await h.replies(int(japanese["channel_id"]))
    assert said["content"] == FALLBACK["ja"]
    spanish = await h.dm("Oye, ¿te acuerdas de la película de la que hablamos ayer?", user=USER2_ID)
    [said] = await h.replies(int(spanish["channel_id"]))
    assert said["content"] == FALLBACK["es"]
    english = await h.dm("Hey, do you remember the film we talked about yesterday?")
    posted = await h.replies(int(english["channel_id"]), 2)
    assert posted[1]["content"] == ("*Finn blinks, lost in thought for a moment.* Sorry, my thoughts "
                                    "scattered. Could you say that again?")
    # the fallback is the model's failure: it was asked (as often as the deadline and the overload breaker
    # allow, which depends on the machine's pace: once the breaker opens, a message is not sent at all)
    assert h.claude.requests
    h.claude.recover()


async def test_a_reminders_plain_line_is_in_the_language_it_was_asked_in(make_harness: MakeHarness) -> None:
    h = await make_harness()
    h.claude.script(Reply(tools=set_reminder(text="llamar a mi madre para felicitarla por su cumpleaños",
                                             in_minutes=1)), times=2)
    sent = await h.dm("recuérdame en un minuto llamar a mi madre para felicitarla por su cumpleaños")
    dm = int(sent["channel_id"])
    await h.replies(dm)
    [row] = await h.store.reminders.open_for(USER_ID)
    h.claude.fail_all(500)
    result = await h.bot.services.timers.handlers["reminder"](
        await h.store.timers.get(reminder_key(row.id)))  # type: ignore[arg-type]
    assert result == f"reminder {row.id} delivered"
    [post] = [m for m in bot_posts(h, dm) if m["content"].startswith("alice")]
    assert post["content"] == ("alice, me pediste que te lo recordara: llamar a mi madre para felicitarla "
                               "por su cumpleaños")
    h.claude.recover()


async def test_the_limit_line_is_in_the_language_of_the_message_it_refuses(make_harness: MakeHarness) -> None:
    h = await make_harness(user_messages_per_minute=1)
    h.claude.script("Hallo Alice!", model="claude-test-default")
    assert await dm_reply(h, "Hallo Finn, wie geht es dir heute?", 1) == "Hallo Alice!"
    calls = len(h.claude.requests)
    assert await dm_reply(h, "Und was hast du heute noch so vor?", 2) == (
        "*Finn unterdrückt ein Gähnen.* Ich habe mich für heute leer geredet. Lass uns in einer Minute "
        "weitermachen.")
    assert len(h.claude.requests) == calls  # refused before any model call


async def test_the_unreadable_file_line_is_in_the_language_of_the_message(harness: Harness) -> None:
    h = harness
    liar = h.discord.attachment("tiny.txt", content_type="text/plain", size=100, data=b"a" * (2 << 20))
    h.claude.script("どんなファイルだったの？", model="claude-test-default")
    sent = await h.dm("このファイルを読んでみてくれる？", attachments=[liar])
    [reply] = await h.replies(int(sent["channel_id"]))
    assert reply["content"] == ("*Finnはtiny.txtをじっと見つめる。* ごめん、それはここでは開けないんだ。"
                                "\n\nどんなファイルだったの？")


async def test_the_unheard_voice_line_is_in_the_language_the_person_writes(make_harness: MakeHarness) -> None:
    h = await make_harness()
    h.claude.script("¡Hola, Alice!", model="claude-test-default")
    assert await dm_reply(h, "Hola Finn, ¿qué tal estás hoy por la playa?", 1) == "¡Hola, Alice!"
    h.claude.script("¡Qué bien!", model="claude-test-default")
    assert await dm_reply(h, "Yo estoy muy bien, acabo de volver de nadar con mis amigas.", 2) == "¡Qué bien!"
    await h.at_rest()  # the exchanges kept, and with them how she writes
    sent = await h.discord.voice_message(USER_ID, b"OggS\x00\x02" + bytes(range(256)) * 4)
    posted = await h.replies(int(sent["channel_id"]), 3)
    assert posted[2]["content"] == ("*Finn ladea la cabeza.* Lo siento, no puedo escuchar mensajes de voz. "
                                    "¿Me lo escribes?")


async def test_a_locale_without_lines_falls_back_to_the_language_the_person_writes(harness: Harness) -> None:
    h = harness
    for n, (said, answered) in enumerate((("Hola Finn, ¿qué tal estás hoy por la playa?", "¡Hola!"),
                                          ("Yo estoy muy bien, acabo de volver de nadar.", "¡Qué bien!")), 1):
        h.claude.script(answered, model="claude-test-default")
        assert await dm_reply(h, said, n) == answered
    await h.at_rest()  # the exchanges kept, and with them how she writes
    h.discord.set_locale(USER_ID, "it")  # Italian: Kindred's lines are not translated into it
    assert (await memory(h, "opt-out")).startswith("Entendido: ya no guardo nada nuevo sobre ti")
    h.discord.set_locale(USER_ID, "en-GB")  # the client's language, where Kindred speaks it, comes first
    assert (await memory(h, "opt-in")).startswith("Thank you: from now on I remember")


async def test_reminders_me_and_help_answer_in_the_clients_language(harness: Harness) -> None:
    h = harness
    h.discord.set_locale(USER_ID, "ja")
    waiting = await answer(await h.slash("reminders", dm=True))
    assert waiting.startswith("待機中のリマインダーはありません。")
    skipped = await answer(await h.slash("reminders", [{"type": 4, "name": "skip", "value": 7}], dm=True))
    assert skipped == "待機中のリマインダー #7 はありません：何も飛ばしていません。"
    h.discord.set_locale(USER_ID, "es-419")
    shown = await answer(await h.slash("me", sub("show"), dm=True))
    assert shown.startswith("Todavía no has definido nada")
    assert (await answer(await h.slash("me", sub("set", pronouns="ella"), dm=True))).startswith(
        "Entendido. A partir de tu próximo mensaje:\n**Nombre:** (tu nombre visible)\n**Pronombres:** ella")
    h.discord.set_locale(USER_ID, "de")
    assert (await (await h.slash("help", dm=True)).text()).startswith("**Finn: Befehle**\n")
