"""Admins' answers in the language of their Discord client (the interaction's ``locale``), over the wire:
``/bot activate|deactivate|status-here|status-refresh`` and a feature's switch (``/bot threads``),
``/identity``, ``/relationship`` and ``/state`` with their input errors; and, for anyone, ``/status``'s mood
word and "Remember this" refused by a ``/forget_me`` that came while it was noting. English (en-US) is the
control, and no English sentence is left in a translated answer."""

from __future__ import annotations

import pytest

from bot.alive.emotions import MOOD_WORDS
from bot.core.i18n import t
from tests.fakes.discord_lead import panel_texts
from tests.harness import (
    ADMIN_ID,
    CHANNEL_ID,
    OTHER_CHANNEL_ID,
    USER_ID,
    Harness,
    MakeHarness,
    ephemeral,
    panel_fields,
)
from tests.test_activation import bot_command
from tests.test_admin_slash import run
from tests.test_alive_proactive import status_request
from tests.test_ask_anywhere import ELSEWHERE_CHANNEL, ELSEWHERE_GUILD, EPHEMERAL
from tests.test_command_answers_i18n import LOCALES, english_left
from tests.test_forget_after_post import hold_first
from tests.test_memory_commands import forget

HERE = f"<#{CHANNEL_ID}>"


async def switch(h: Harness, name: str, state: str) -> str:
    options = [{"name": name, "type": 1, "options": [{"name": "state", "type": 3, "value": state}]}]
    return str((await ephemeral(await h.slash("bot", options, user=ADMIN_ID)))["content"])


async def test_bot_switches_speak_the_admins_language(harness: Harness) -> None:
    h = harness
    off = {"en-US": f"I'm now inactive in {HERE}: no replies and no reply votes there. Messages there are "
                    "not logged (log_inactive_channels is off).",
           "ja": f"{HERE}では無効になりました：返信も返信の投票もしません。そこのメッセージは記録されません"
                 "（log_inactive_channels がオフです）。",
           "es-ES": f"Ahora estoy inactivo en {HERE}: allí no hay respuestas ni votaciones de respuesta. Los "
                    "mensajes de allí no se registran (log_inactive_channels está desactivado).",
           "de": f"Ich bin jetzt in {HERE} inaktiv: dort keine Antworten und keine Antwortabstimmungen. "
                 "Nachrichten dort werden nicht protokolliert (log_inactive_channels ist aus)."}
    status_off = {
        "en-US": "Here I am **inactive** (channel: inactive, server: active; a channel setting wins). "
                 "Messages here are not logged.",
        "ja": "ここでは**無効**です（チャンネル：無効、サーバー：有効。チャンネルの設定が優先されます）。"
              "ここのメッセージは記録されません。",
        "es-ES": "Aquí estoy **inactivo** (canal: inactivo, servidor: activo; el ajuste del canal tiene "
                 "prioridad). Los mensajes de aquí no se registran.",
        "de": "Hier bin ich **inaktiv** (Kanal: inaktiv, Server: aktiv; eine Kanaleinstellung hat "
              "Vorrang). Nachrichten hier werden nicht protokolliert."}
    unset = {"en-US": "(channel: not set, server: active;", "ja": "（チャンネル：未設定、サーバー：有効。",
             "es-ES": "(canal: sin definir, servidor: activo;", "de": "(Kanal: nicht gesetzt, Server: aktiv;"}
    on = {"en-US": f"I'm active in {HERE}: I read along and reply there.",
          "ja": f"{HERE}で有効になりました：会話を読み、返信します。",
          "es-ES": f"Estoy activo en {HERE}: leo lo que se escribe y respondo allí.",
          "de": f"Ich bin in {HERE} aktiv: Ich lese mit und antworte dort."}
    server = {"en-US": ("the server ", "Channels with their own setting keep it."),
              "ja": ("サーバー ", "個別に設定のあるチャンネルはその設定のままです。"),
              "es-ES": ("el servidor ", "Los canales con su propio ajuste lo conservan."),
              "de": ("dem Server ", "Kanäle mit eigener Einstellung behalten sie.")}
    threads = {
        "en-US": f"Threads is **on** for {HERE}. Here it is now **on**: a conversation started with me goes "
                 "on in a thread I open, where I answer every message. A channel setting wins over its "
                 "server's.",
        "ja": f"{HERE}のThreadsは**オン**です。ここでは現在**オン**です：私と始めた会話は、私が開くスレッドで"
              "続き、そこではすべてのメッセージに答えます。チャンネルの設定はサーバーの設定より優先されます。",
        "es-ES": f"Threads: **activado** en {HERE}. Aquí ahora está **activado**: una conversación que "
                 "empieza conmigo sigue en un hilo que abro, donde respondo a cada mensaje. El ajuste de un "
                 "canal tiene prioridad sobre el de su servidor.",
        "de": f"Threads ist in {HERE} **an**. Hier ist es jetzt **an**: ein Gespräch mit mir geht in einem "
              "Thread weiter, den ich öffne und in dem ich auf jede Nachricht antworte. Eine "
              "Kanaleinstellung hat Vorrang vor der des Servers."}
    back = {"en-US": f"Threads for {HERE}: back to the default (",
            "ja": f"{HERE}のThreads：既定値に戻しました（",
            "es-ES": f"Threads en {HERE}: vuelve al valor predeterminado (",
            "de": f"Threads in {HERE}: zurück zum Standard ("}
    refresh = {"en-US": "The custom status is switched off (custom_status=false).",
               "ja": "カスタムステータスはオフになっています（custom_status=false）。",
               "es-ES": "El estado personalizado está desactivado (custom_status=false).",
               "de": "Der benutzerdefinierte Status ist ausgeschaltet (custom_status=false)."}
    english = ["I'm now inactive", "no replies", "Messages there", "Here I am", "not logged",
               "a channel setting", "I'm active", "read along", "the server", "Channels with",
               "Here it is now", "back to the default", "conversation started", "custom status", "not set",
               "server: inactive", "**on**"]
    await bot_command(h, "activate", "server")  # the server's own setting, under each channel's
    for locale in LOCALES:
        h.discord.set_locale(ADMIN_ID, locale)
        said = [await bot_command(h, "deactivate"), await bot_command(h, "status-here")]
        assert said == [off[locale], status_off[locale]], said
        said.append(await bot_command(h, "activate"))
        assert said[-1] == on[locale], said[-1]
        said.append(await bot_command(h, "activate", "server"))
        named, keep = server[locale]
        assert named + "Tide Pool" in said[-1] and said[-1].endswith(keep), said[-1]
        said.append(await bot_command(h, "status-here", channel=OTHER_CHANNEL_ID))  # the server's alone
        assert unset[locale] in said[-1], said[-1]
        said.append(await switch(h, "threads", "on"))
        assert said[-1] == threads[locale], said[-1]
        said.append(await switch(h, "threads", "default"))
        assert said[-1].startswith(back[locale]), said[-1]
        ix = await h.slash("bot", [{"name": "status-refresh", "type": 1, "options": []}], user=ADMIN_ID)
        said.append(str((await ix.message())["content"]))
        assert said[-1] == refresh[locale], said[-1]
        if locale != "en-US":
            assert english_left("\n".join(said), english) == [], english_left("\n".join(said), english)


async def test_a_refreshed_status_is_announced_in_the_admins_language(make_harness: MakeHarness) -> None:
    h = await make_harness(custom_status="true")
    h.claude.script("Mending nets at dusk", match=status_request)
    h.discord.set_locale(ADMIN_ID, "ja")
    ix = await h.slash("bot", [{"name": "status-refresh", "type": 1, "options": []}], user=ADMIN_ID)
    assert (await ix.message())["content"] == "新しいカスタムステータス：Mending nets at dusk"


async def test_identity_answers_and_errors_speak_the_admins_language(harness: Harness) -> None:
    h = harness
    added = {"en-US": "Added quirk #{id}: hums sea shanties",
             "ja": "癖 #{id} を追加しました：hums sea shanties",
             "es-ES": "Añadido: manía #{id}: hums sea shanties",
             "de": "Eigenart #{id} hinzugefügt: hums sea shanties"}
    listed = {"en-US": "**Identity (quirk)**\n#{id} quirk: hums sea shanties",
              "ja": "**アイデンティティ（癖）**\n#{id} 癖: hums sea shanties",
              "es-ES": "**Identidad (manía)**\n#{id} manía: hums sea shanties",
              "de": "**Identität (Eigenart)**\n#{id} Eigenart: hums sea shanties"}
    edited = {"en-US": "Changed quirk #{id}\nwas: hums sea shanties\nnow: whistles",
              "ja": "癖 #{id} を変更しました\n変更前：hums sea shanties\n変更後：whistles",
              "es-ES": "Cambiado: manía #{id}\nantes: hums sea shanties\nahora: whistles",
              "de": "Eigenart #{id} geändert\nvorher: hums sea shanties\njetzt: whistles"}
    deleted = {"en-US": "Deleted quirk #{id}: whistles", "ja": "癖 #{id} を削除しました：whistles",
               "es-ES": "Eliminado: manía #{id}: whistles", "de": "Eigenart #{id} gelöscht: whistles"}
    empty = {"en-US": "The lore cannot be empty.", "ja": "設定は空にできません。",
             "es-ES": "La historia no puede estar vacía.", "de": "Der Hintergrund darf nicht leer sein."}
    too_long = {"en-US": "The trait is 2001 characters long; the limit is 2000.",
                "ja": "特徴が2001文字あります。上限は2000文字です。",
                "es-ES": "El rasgo tiene 2001 caracteres; el límite es 2000.",
                "de": "Die Eigenschaft ist 2001 Zeichen lang; die Grenze ist 2000."}
    not_an_id = {"en-US": "'abc' is not an identity entry id: pick one from the list.",
                 "ja": "'abc' はアイデンティティ項目のIDではありません。一覧から選んでください。",
                 "es-ES": "'abc' no es un id de entrada de identidad: elige uno de la lista.",
                 "de": "'abc' ist keine Identitätseintrags-ID: Wähle eine aus der Liste."}
    missing = {"en-US": "There is no identity entry #99999.",
               "ja": "アイデンティティ項目 #99999 はありません。",
               "es-ES": "No hay ninguna entrada de identidad #99999.",
               "de": "Es gibt keinen Identitätseintrag #99999."}
    english = ["Added", "Identity", "quirk", "Changed", "was:", "now:", "Deleted", "cannot be empty",
               "characters long", "is not an", "pick one", "There is no"]
    assert h.bot is not None
    key = h.bot.services.pipeline.character_key
    for locale in LOCALES:
        h.discord.set_locale(ADMIN_ID, locale)
        said = [await run(h, "identity", "add", kind="quirk", text="hums sea shanties")]
        [entry] = [eid for eid, _, text in await h.store.identity.entries(key, "quirk")
                   if text == "hums sea shanties"]
        assert said[-1] == added[locale].format(id=entry), said[-1]
        said.append(await run(h, "identity", "list", kind="quirk"))
        heading, line = listed[locale].format(id=entry).split("\n")
        assert said[-1].startswith(heading + "\n#") and line in said[-1].splitlines(), said[-1]
        said.append(await run(h, "identity", "edit", entry=str(entry), text="whistles"))
        assert said[-1] == edited[locale].format(id=entry), said[-1]
        said.append(await run(h, "identity", "delete", entry=str(entry)))
        assert said[-1] == deleted[locale].format(id=entry), said[-1]
        refusals = [await run(h, "identity", "add", kind="lore", text="   "),
                    await run(h, "identity", "add", kind="trait", text="x" * 2001),
                    await run(h, "identity", "delete", entry="abc"),
                    await run(h, "identity", "delete", entry="99999")]
        assert refusals == [empty[locale], too_long[locale], not_an_id[locale], missing[locale]], refusals
        if locale != "en-US":
            everything = "\n".join(said + refusals).replace("hums sea shanties", "")
            assert english_left(everything, english) == [], english_left(everything, english)


async def test_relationship_answers_speak_the_admins_language(harness: Harness) -> None:
    h = harness
    await h.store.people.ensure_user(USER_ID, "alice")
    label = f"alice (`{USER_ID}`)"
    shown = {"en-US": f"**Relationship with {label}**\nanger 0/10 · rapport 5/10 · trust 5/10 · formality +0 "
                      "(-5..+5)\nTone guidance in replies: none (neutral)",
             "ja": f"**{label}との関係**\n怒り 0/10 · 親しみ 5/10 · 信頼 5/10 · 堅さ +0 (-5..+5)\n"
                   "返信の口調の指針：なし（中立）",
             "es-ES": f"**Relación con {label}**\nenfado 0/10 · afinidad 5/10 · confianza 5/10 · "
                      "formalidad +0 (-5..+5)\nIndicación de tono en las respuestas: ninguna (neutral)",
             "de": f"**Beziehung zu {label}**\nÄrger 0/10 · Verbundenheit 5/10 · Vertrauen 5/10 · "
                   "Förmlichkeit +0 (-5..+5)\nTonvorgabe in Antworten: keine (neutral)"}
    clamped = {"en-US": f"⚠️ anger must be within 0..10; set to 10\n**Relationship with {label} updated**\n"
                        "anger 10/10 · ",
               "ja": f"⚠️ 怒りは0..10の範囲にしてください。10にしました\n**{label}との関係を更新しました**\n"
                     "怒り 10/10 · ",
               "es-ES": f"⚠️ enfado debe estar entre 0 y 10; se fijó en 10\n**Relación con {label} "
                        "actualizada**\nenfado 10/10 · ",
               "de": f"⚠️ Ärger muss zwischen 0 und 10 liegen; auf 10 gesetzt\n**Beziehung zu {label} "
                     "aktualisiert**\nÄrger 10/10 · "}
    nothing = {"en-US": "Give at least one of anger, rapport, trust (0..10) or formality (-5..+5).",
               "ja": "怒り・親しみ・信頼（0..10）、堅さ（-5..+5）のうち少なくとも1つを指定してください。",
               "es-ES": "Indica al menos uno: enfado, afinidad, confianza (0..10) o formalidad (-5..+5).",
               "de": "Gib mindestens einen Wert an: Ärger, Verbundenheit, Vertrauen (0..10) oder "
                     "Förmlichkeit (-5..+5)."}
    reset = {"en-US": f"Reset the relationship with {label}: no tone guidance until it grows again "
                      "(defaults: anger 0/10 · ",
             "ja": f"{label}との関係をリセットしました。関係が育つまで口調の指針はありません"
                   "（既定値：怒り 0/10 · ",
             "es-ES": f"Relación con {label} reiniciada: sin indicación de tono hasta que vuelva a crecer "
                      "(valores predeterminados: enfado 0/10 · ",
             "de": f"Beziehung zu {label} zurückgesetzt: keine Tonvorgabe, bis sie wieder wächst (Standard: "
                   "Ärger 0/10 · "}
    already = {"en-US": f"The relationship with {label} was already at its defaults.",
               "ja": f"{label}との関係はすでに既定値でした。",
               "es-ES": f"La relación con {label} ya estaba en sus valores predeterminados.",
               "de": f"Die Beziehung zu {label} war bereits auf den Standardwerten."}
    no_user = {"en-US": "Give a user id.", "ja": "ユーザーIDを指定してください。",
               "es-ES": "Indica un id de usuario.", "de": "Gib eine Benutzer-ID an."}
    english = ["Relationship with", "anger", "rapport", "trust", "formality", "Tone guidance",
               "none (neutral)", "must be within", "updated", "Give at least", "Reset the relationship",
               "defaults", "Give a user id"]
    for locale in LOCALES:
        h.discord.set_locale(ADMIN_ID, locale)
        said = [await run(h, "relationship", "show", user=str(USER_ID))]
        assert said[-1] == shown[locale], said[-1]
        said.append(await run(h, "relationship", "set", user=str(USER_ID), anger=12))
        assert said[-1].startswith(clamped[locale]), said[-1]
        said.append(await run(h, "relationship", "set", user=str(USER_ID)))
        assert said[-1] == nothing[locale], said[-1]
        said.append(await run(h, "relationship", "reset", user=str(USER_ID)))
        assert said[-1].startswith(reset[locale]) and "(-5..+5)" in said[-1] and "\n" not in said[-1]
        said.append(await run(h, "relationship", "reset", user=str(USER_ID)))
        assert said[-1] == already[locale], said[-1]
        said.append(await run(h, "relationship", "show", user=" "))
        assert said[-1] == no_user[locale], said[-1]
        if locale != "en-US":
            # the tone guidance itself is the prompt's own sentence, as the model reads it
            lines = "\n".join(said).splitlines()
            everything = "\n".join(line for line in lines if "How you feel" not in line)
            assert english_left(everything, english) == [], english_left(everything, english)


async def test_state_answers_and_errors_speak_the_admins_language(harness: Harness) -> None:
    h = harness
    assert h.bot is not None
    feelings = h.bot.services.alive.main_feelings
    mood = feelings.label
    said_set = {"en-US": "Set `probe` = one", "ja": "`probe` = one に設定しました",
                "es-ES": "Fijado `probe` = one", "de": "`probe` = one gesetzt"}
    again = {"en-US": "Set `probe` = two (was: one)", "ja": "`probe` = two に設定しました（以前：one）",
             "es-ES": "Fijado `probe` = two (antes: one)", "de": "`probe` = two gesetzt (vorher: one)"}
    heading = {"en-US": "**Global state**\n", "ja": "**グローバル状態**\n", "es-ES": "**Estado global**\n",
               "de": "**Globaler Zustand**\n"}
    deleted = {"en-US": "Deleted `probe`.", "ja": "`probe` を削除しました。", "es-ES": "Eliminado `probe`.",
               "de": "`probe` gelöscht."}
    missing = {"en-US": "There is no state key `probe`.", "ja": "状態キー `probe` はありません。",
               "es-ES": "No hay ninguna clave de estado `probe`.",
               "de": "Es gibt keinen Zustandsschlüssel `probe`."}
    verbose = {"en-US": ("`verbose` takes on or off.", "Verbose mode is now on."),
               "ja": ("`verbose` には on か off を指定します。", "詳細モードがオンになりました。"),
               "es-ES": ("`verbose` admite on u off.", "El modo detallado está activado ahora."),
               "de": ("`verbose` nimmt on oder off.", "Der ausführliche Modus ist jetzt an.")}
    reloaded = {"en-US": "Feelings reloaded: {mood}.", "ja": "気分を読み込み直しました：{mood}。",
                "es-ES": "Sentimientos recargados: {mood}.", "de": "Gefühle neu geladen: {mood}."}
    too_long = {"en-US": "The value is 2001 characters long; the limit is 2000.",
                "ja": "値が2001文字あります。上限は2000文字です。",
                "es-ES": "El valor tiene 2001 caracteres; el límite es 2000.",
                "de": "Der Wert ist 2001 Zeichen lang; die Grenze ist 2000."}
    english = ["Set `", "(was:", "Global state", "Deleted", "There is no", "takes on or off", "Verbose mode",
               "Feelings reloaded", "characters long"]
    for locale in LOCALES:
        h.discord.set_locale(ADMIN_ID, locale)
        said = [await run(h, "state", "set", key="probe", value="one")]
        assert said[-1] == said_set[locale], said[-1]
        said.append(await run(h, "state", "set", key="probe", value="two"))
        assert said[-1] == again[locale], said[-1]
        said.append(await run(h, "state", "list"))
        assert said[-1].startswith(heading[locale]) and "`probe` = two" in said[-1], said[-1]
        said.append(await run(h, "state", "delete", key="probe"))
        assert said[-1] == deleted[locale], said[-1]
        said.append(await run(h, "state", "get", key="probe"))
        assert said[-1] == missing[locale], said[-1]
        said.append(await run(h, "state", "set", key="verbose", value="maybe"))
        refused, now_on = verbose[locale]
        assert said[-1] == refused, said[-1]
        said.append(await run(h, "state", "set", key="verbose", value="on"))
        assert said[-1].endswith("\n-# " + now_on), said[-1]
        said.append(await run(h, "state", "set", key="probe", value="x" * 2001))
        assert said[-1] == too_long[locale], said[-1]
        # a feelings key takes effect at once; the note names the mood in the admin's words
        said.append(await run(h, "state", "set", key=feelings.key, value=feelings.current().to_json()))
        word = t(locale.split("-")[0], MOOD_WORDS[mood])
        assert said[-1].endswith("\n-# " + reloaded[locale].format(mood=word)), said[-1]
        if locale != "en-US":
            assert word != mood
            everything = "\n".join(said).replace(feelings.current().to_json(), "")
            assert english_left(everything, english) == [], english_left(everything, english)


async def test_status_names_the_mood_in_the_persons_language(harness: Harness) -> None:
    h = harness
    assert h.bot is not None
    alive = h.bot.services.alive
    for locale in LOCALES:
        h.discord.set_locale(USER_ID, locale)
        language = locale.split("-")[0]
        shown = await ephemeral(await h.slash("status"))
        feeling = panel_fields(shown)[t(language, "How {character} feels", character="Finn")]
        label = alive.main_feelings.label
        word = t(language, MOOD_WORDS[label])
        assert feeling.startswith(word + " (dopamine "), feeling  # the figures stay as they are
        if locale != "en-US":
            assert word != label and not feeling.startswith(label + " "), feeling
            assert "How Finn feels" not in "\n".join(panel_texts(shown))


async def test_remember_this_refused_by_a_forget_speaks_the_askers_language(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """A /forget_me that ran while "Remember this" was noting: the refusal is in the asker's language."""
    h = harness
    h.discord.add_outside_channel(ELSEWHERE_CHANNEL, guild_id=ELSEWHERE_GUILD)
    refused = {"en-US": "You asked me to forget you while I was noting this, so I kept nothing.",
               "ja": t("ja", "You asked me to forget you while I was noting this, so I kept nothing."),
               "es-ES": t("es", "You asked me to forget you while I was noting this, so I kept nothing."),
               "de": t("de", "You asked me to forget you while I was noting this, so I kept nothing.")}
    for locale in LOCALES:
        target = h.discord.post_outside(ELSEWHERE_CHANNEL, USER_ID, f"my locker code ({locale}) is 4417")
        held = hold_first(monkeypatch, h.store.people, "get_user")  # the note's own read of its user
        h.discord.set_locale(USER_ID, locale)
        done = await h.discord.interaction_installed("Remember this", user_id=USER_ID,
                                                     channel_id=ELSEWHERE_CHANNEL, guild_id=ELSEWHERE_GUILD,
                                                     target=target)
        await held.reached()
        h.discord.set_locale(USER_ID, "en-US")  # the /forget_me's own buttons, as its helper reads them
        await forget(h)
        held.release()
        told = await done.message()
        assert told["content"] == refused[locale] and told["flags"] & EPHEMERAL, told
        if locale != "en-US":
            assert told["content"] != refused["en-US"]
    assert h.bot is not None
    assert await h.store.memories.core_memories(h.bot.services.pipeline.character_key, USER_ID) == []
