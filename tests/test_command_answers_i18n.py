"""Slash commands answer in the language of the person's Discord client (the interaction's ``locale``), over
the wire: /status, /forget_last, /reset_conversation, /help (the command list as the client shows the
commands: the tree's own translations, bot/discord/command_locales.py), /reroll and the swipe buttons,
/settings' invalid values and per-key help, /ask's refusal, /memories history (an admin's). English (en-US)
is the control, and no English sentence is left in a translated answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from tests.fakes import EVENT_WAIT
from tests.fakes.discord_lead import panel_texts
from tests.harness import (
    ADMIN_ID,
    USER2_ID,
    USER_ID,
    Harness,
    ephemeral,
    eventually,
    panel_fields,
    press,
)
from tests.server_support import answer, sub
from tests.test_activation import bot_command
from tests.test_admin_slash import complete, run
from tests.test_swipes import swiped_reply
from tests.test_user_commands import seed

LOCALES = ("en-US", "ja", "es-ES", "de")


def english_left(text: str, sentences: list[str]) -> list[str]:
    return [s for s in sentences if s in text]


async def test_status_speaks_the_clients_language(harness: Harness) -> None:
    h = harness
    await seed(h, 1)
    titles = {"en-US": "### Your status with Finn", "ja": "### Finnとのステータス",
              "es-ES": "### Tu estado con Finn", "de": "### Dein Status bei Finn"}
    names = {"en-US": ["Plan", "Usage (all time)", "Conversation in this channel", "Core memories"],
             "ja": ["プラン", "使用量（累計）", "このチャンネルでの会話", "コアメモリー"],
             "es-ES": ["Plan", "Uso (total)", "Conversación en este canal", "Recuerdos principales"],
             "de": ["Tarif", "Nutzung (insgesamt)", "Gespräch in diesem Kanal", "Kernerinnerungen"]}
    messages = {"en-US": "2 messages · ", "ja": "2件のメッセージ · ", "es-ES": "2 mensajes · ",
                "de": "2 Nachrichten · "}
    english = ["Your status with", "Usage (all time)", "Conversation in", "Core memories", "(all time)",
               " messages", " calls"]
    for locale in LOCALES:
        h.discord.set_locale(USER_ID, locale)
        shown = await ephemeral(await h.slash("status"))
        texts = panel_texts(shown)
        assert texts[0] == titles[locale], texts[0]
        fields = panel_fields(shown)
        assert [n for n in names[locale] if n in fields] == names[locale], list(fields)
        conversation = fields[names[locale][2]]
        assert conversation.startswith(messages[locale]), conversation
        if locale != "en-US":
            assert english_left("\n".join(texts), english) == [], texts


async def test_forget_last_and_reset_speak_the_clients_language(harness: Harness) -> None:
    h = harness
    await seed(h, 2)
    choose = {"en-US": ("Choose the exchanges to forget", "You: question 1", ["Forget selected", "Cancel"],
                        "Cancelled: nothing was forgotten."),
              "ja": ("忘れるやり取りを選んで", "あなた：question 1", ["選んだものを忘れる", "キャンセル"],
                     "キャンセルしました：何も忘れていません。"),
              "es-ES": ("Elige los intercambios que quieres que olvide", "Tú: question 1",
                        ["Olvidar seleccionados", "Cancelar"], "Cancelado: no se olvidó nada."),
              "de": ("Wähle die Austausche, die ich vergessen soll", "Du: question 1",
                     ["Auswahl vergessen", "Abbrechen"], "Abgebrochen: Es wurde nichts vergessen.")}
    nothing = {"en-US": "We have no exchanges here for me to forget.",
               "ja": "ここには忘れられるやり取りがありません。",
               "es-ES": "Aquí no tenemos intercambios que pueda olvidar.",
               "de": "Wir haben hier keine Austausche, die ich vergessen könnte."}
    reset = {"en-US": ("Reset our conversation in this channel?", ["Yes, reset", "Cancel"],
                       "Cancelled: nothing was changed."),
             "ja": ("このチャンネルでの私たちの会話をリセットしますか？",
                    ["はい、リセットします", "キャンセル"],
                    "キャンセルしました：何も変更していません。"),
             "es-ES": ("¿Reiniciamos nuestra conversación en este canal?", ["Sí, reiniciar", "Cancelar"],
                       "Cancelado: no se cambió nada."),
             "de": ("Unser Gespräch in diesem Kanal neu beginnen?", ["Ja, neu beginnen", "Abbrechen"],
                    "Abgebrochen: Es wurde nichts geändert.")}
    english = ["Choose the exchanges", "Forget selected", "You:", "Cancel", "nothing was", "Reset our",
               "Your core memories", "Yes, reset"]
    for locale in LOCALES:
        h.discord.set_locale(USER_ID, locale)
        heading, line, labels, cancelled = choose[locale]
        view = await ephemeral(await h.slash("forget_last"))
        assert view["content"].startswith(heading) and line in view["content"], view["content"]
        assert [c["label"] for c in wired_buttons(view) if ":pair:" not in c["custom_id"]] == labels
        if locale != "en-US":
            assert english_left(view["content"], english) == [], view["content"]
        await (await press(h, view, "cancel")).response()
        assert view["content"] == cancelled
        assert (await ephemeral(await h.slash("forget_last", dm=True)))["content"] == nothing[locale]

        question, labels, cancelled = reset[locale]
        view = await ephemeral(await h.slash("reset_conversation"))
        assert view["content"].startswith(question), view["content"]
        assert [c["label"] for c in wired_buttons(view)] == labels
        if locale != "en-US":
            assert english_left(view["content"], english) == [], view["content"]
        await (await press(h, view, "cancel")).response()
        assert view["content"] == cancelled


def whole(ix: Any, *needles: str) -> Callable[[], Awaitable[str]]:
    """/help's whole text once it holds ``needles`` (the list may be split over follow-ups)."""

    async def text() -> str:
        said = str(await ix.text())
        return said if all(n in said for n in needles) else ""

    return text


def starts(message: dict[str, Any], text: str) -> Callable[[Any], bool]:
    return lambda _: str(message.get("content") or "").startswith(text)


def wired_buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for row in message.get("components") or [] for c in row.get("components") or []]


async def test_help_lists_the_commands_as_the_client_shows_them(harness: Harness) -> None:
    h = harness
    await h.lead_work_done()
    # /remember as each client shows it (commands.po), and the heading and marks in Kindred's own lines
    remember = {"en-US": "`/remember <memory>` — Add something to what I always remember about you.",
                "ja": "`/覚えて <記憶>` — あなたについていつも覚えていることを追加します。",
                "es-ES": "`/recordar <recuerdo>` — Añade algo a lo que siempre recuerdo de ti.",
                "de": "`/merken <erinnerung>` — Fügt etwas zu dem hinzu, was ich mir über dich immer merke."}
    heading = {"en-US": "**Finn: commands**", "ja": "**Finn：コマンド**", "es-ES": "**Finn: comandos**",
               "de": "**Finn: Befehle**"}
    menu = {"en-US": "`Apps ▸ Remember this` — right-click a message",
            "ja": "`アプリ ▸ これを覚えて` — メッセージを右クリック",
            "es-ES": "`Apps ▸ Recuerda esto` — clic derecho en un mensaje",
            "de": "`Apps ▸ Merk dir das` — Rechtsklick auf eine Nachricht"}
    admin = {"en-US": " *(admin)* — ", "ja": " *（管理者）* — ", "es-ES": " *(admin)* — ",
             "de": " *(Admin)* — "}
    english = ["Add something to what I always remember about you.", "Every command and what it does.",
               "right-click", "`/remember ", ": commands"]
    for locale in LOCALES:
        h.discord.set_locale(USER_ID, locale)
        ix = await h.slash("help")
        await ephemeral(ix)

        text = await eventually(whole(ix, remember[locale], menu[locale]), f"/help in {locale}")
        assert text.startswith(heading[locale]) and admin[locale] in text, text[:300]
        if locale != "en-US":
            assert english_left(text, english) == [], english_left(text, english)


async def test_settings_explains_a_bad_value_and_a_key_in_the_admins_language(harness: Harness) -> None:
    h = harness
    bad = {"en-US": ("vote_count must be a whole number from 1 to 15, not '99'.",
                     "vote_count: yes/no votes per unaddressed message (1-15)"),
           "ja": ("vote_count は 1 から 15 までの整数にしてください。'99' は使えません。",
                  "vote_count: 話しかけられていないメッセージ1件あたりのはい/いいえ投票数（1-15）"),
           "es-ES": ("vote_count debe ser un número entero del 1 al 15, no '99'.",
                     "vote_count: votos de sí/no por cada mensaje no dirigido (1-15)"),
           "de": ("vote_count muss eine ganze Zahl von 1 bis 15 sein, nicht '99'.",
                  "vote_count: Ja/Nein-Stimmen pro nicht adressierter Nachricht (1-15)")}
    proactive = {"en-US": "whether the character may start conversations here (on/off)",
                 "ja": "キャラクターがここで自分から会話を始めてよいか（on/off）",
                 "es-ES": "si el personaje puede iniciar conversaciones aquí (on/off)",
                 "de": "ob die Figur hier Gespräche beginnen darf (on/off)"}
    unset = {"en-US": "**not set**", "ja": "**未設定**", "es-ES": "**sin definir**",
             "de": "**nicht gesetzt**"}
    english = ["must be", "whole number", "yes/no votes", "whether the character", "not set",
               "mentions or ids",
               "everyone", "nobody"]
    for locale in LOCALES:
        h.discord.set_locale(ADMIN_ID, locale)
        said = await answer(await h.slash("settings", sub("set", key="vote_count", value="99"),
                                          user=ADMIN_ID))
        error, help_line = bad[locale]
        assert said == f"{error}\n-# {help_line}", said
        shown = await ephemeral(await h.slash("settings", sub("show"), user=ADMIN_ID))
        [embed] = shown["embeds"]
        fields = {f["name"]: f["value"] for f in embed["fields"]}
        assert fields["proactive"].endswith(f"\n-# {proactive[locale]}"), fields["proactive"]
        assert fields["language"].startswith(unset[locale]), fields["language"]
        if locale != "en-US":
            everything = said + "\n".join(fields.values())
            assert english_left(everything, english) == [], english_left(everything, english)


async def test_ask_refusal_and_reroll_speak_the_clients_language(harness: Harness) -> None:
    h = harness
    nothing = {"en-US": "There is nothing to reroll: my latest reply to you here has no swipes open any more",
               "ja": "作り直せるものがありません：ここでのあなたへの最新の返事には",
               "es-ES": "No hay nada que regenerar: mi última respuesta para ti aquí",
               "de": "Es gibt nichts neu zu würfeln: Meine letzte Antwort an dich hier"}
    for locale in LOCALES:
        h.discord.set_locale(USER_ID, locale)
        shown = await ephemeral(await h.slash("reroll"))  # deferred: the answer replaces "thinking…"
        await h.discord.wait_for(starts(shown, nothing[locale]), EVENT_WAIT,
                                 what=f"/reroll's answer in {locale}")
        said = shown["content"]
        if locale != "en-US":
            assert "nothing to reroll" not in said and "conversation moves on" not in said
    await bot_command(h, "deactivate")  # the admin's, in English
    refused = {"en-US": "I'm switched off in this channel (an admin used `/bot deactivate`), so I don't "
                        "write replies here.",
               "ja": "このチャンネルではオフになっています（管理者が `/ボット 無効化` を使いました）。"
                     "ここでは返信しません。",
               "es-ES": "Aquí no respondo: un administrador me desactivó en este canal (`/bot desactivar`).",
               "de": "Ich bin in diesem Kanal ausgeschaltet (ein Admin hat `/bot deaktivieren` benutzt), "
                     "deshalb antworte ich hier nicht."}
    for locale in LOCALES:
        h.discord.set_locale(USER_ID, locale)
        said = await answer(await h.slash("ask", [{"name": "message", "type": 3, "value": "are you there?"}]))
        assert said == refused[locale], said


async def test_memories_history_and_facts_speak_the_admins_language(harness: Harness) -> None:
    h = harness
    key = h.bot.services.pipeline.character_key
    await h.store.people.ensure_user(USER_ID, "alice")
    await h.store.memories.add_core_memory(key, USER_ID, "Alice keeps a pet crab named Sir Pinch.")
    [choice] = await complete(h, "memories", "edit", "memory", "pinch", user=str(USER_ID))
    await run(h, "memories", "edit", user=str(USER_ID), memory=int(choice["value"]),
              text="Alice keeps a pet crab named Lady Pinch.")  # the old version is archived
    label = f"alice (`{USER_ID}`)"
    heading = {"en-US": f"**Archived core-memory versions of {label}** (newest first)",
               "ja": f"**{label} のコアメモリーのアーカイブ版**（新しい順）",
               "es-ES": f"**Versiones archivadas de los recuerdos principales de {label}** (las más "
                        "recientes primero)",
               "de": f"**Archivierte Fassungen der Kernerinnerungen an {label}** (neueste zuerst)"}
    count = {"en-US": "1 memory: Alice keeps a pet crab named Sir Pinch.",
             "ja": "1件の記憶：Alice keeps a pet crab named Sir Pinch.",
             "es-ES": "1 recuerdo: Alice keeps a pet crab named Sir Pinch.",
             "de": "1 Erinnerung: Alice keeps a pet crab named Sir Pinch."}
    unknown = {"en-US": "I don't know user 123456789: they have not talked to me yet",
               "ja": "ユーザー 123456789 を知りません：まだ私と話したことがありません",
               "es-ES": "No conozco al usuario 123456789: todavía no ha hablado conmigo",
               "de": "Ich kenne die Person 123456789 nicht: Sie hat noch nicht mit mir gesprochen"}
    no_facts = {"en-US": f"No long-term facts about {label}.",
                "ja": f"{label} についての長期的な事実はありません。",
                "es-ES": f"No hay datos a largo plazo sobre {label}.",
                "de": f"Keine Langzeit-Fakten über {label}."}
    english = ["Archived core-memory versions", "newest first", " memory: ", " memories: ", "(empty)",
               "I don't know user", "talked to me", "long-term facts"]
    for locale in LOCALES:
        h.discord.set_locale(ADMIN_ID, locale)
        history = await run(h, "memories", "history", user=str(USER_ID))
        assert history.startswith(heading[locale] + "\n#"), history
        assert f" · {count[locale]}\n#" in history, history  # the version before the edit first
        refused = await run(h, "memories", "history", user="123456789")
        assert refused.startswith(unknown[locale]), refused
        facts = await run(h, "facts", "list", user=str(USER_ID))
        assert facts == no_facts[locale], facts
        if locale != "en-US":
            assert english_left(history + refused + facts, english) == [], history + refused + facts


async def test_a_swipe_refusal_speaks_the_pressers_language(harness: Harness) -> None:
    h = harness
    reply = await swiped_reply(h)
    refused = {"en-US": "Only the person this reply answered can swipe it.",
               "ja": "この返事をスワイプできるのは、返事を受けた本人だけです。",
               "es-ES": "Solo la persona a la que respondía este mensaje puede cambiarlo.",
               "de": "Nur die Person, der diese Antwort galt, kann sie wechseln."}
    for locale in LOCALES:
        h.discord.set_locale(USER2_ID, locale)
        refusal = await ephemeral(await h.click(reply, "kindred-swipe:new", user=USER2_ID))
        assert refusal["content"] == refused[locale]
