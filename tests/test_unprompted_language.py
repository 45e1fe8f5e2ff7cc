"""What the character says unprompted is in the person's language and register, as its replies are, proven by
what the fake Claude receives: a check-in to a German who writes *Sie* carries the line a reply to him
carries (how he writes, in German) with the language and register said outright; a reminder to a Spanish
person carries it too; a proactive line in a channel whose people write Spanish is asked for in Spanish."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.alive.style import learn, spoken_language, unprompted_line
from tests.fakes.claude_server import FakeClaude, Reply
from tests.harness import USER_ID, MakeHarness, bot_posts, proactive_round, run_round
from tests.test_alive_proactive import Rolls, bot_switch, proactive, sent_at, unaddressed
from tests.test_reminders import due_now, set_reminder

SIE = ("Guten Tag, Finn. Haben Sie heute Abend Zeit für ein Gespräch über den Leuchtturm?",
       "Vielen Dank für Ihre freundliche Antwort. Ich würde gern mehr über Ihre Arbeit erfahren.",
       "Könnten Sie mir bitte erzählen, wie lange Sie schon dort oben wohnen?")
LINE = re.compile(r"<state>\n(?:.*\n)*alice writes [^\n]*; in German\.\n"
                  r"Write to alice in German; address alice as formally or as familiarly as alice addresses "
                  r"you \(their own words show it, in their language's terms\)\.\n(?:.*\n)*</state>")


def checkin_request(body: dict[str, Any]) -> bool:
    return "asking how they are" in FakeClaude.all_text(body)


async def test_a_check_in_to_a_german_who_writes_sie_carries_his_language_and_register(
        make_harness: MakeHarness) -> None:
    h = await make_harness(checkin_after_days="2", timezone="UTC", quiet_hours="23-7",
                           style_mirroring="true")
    await (await h.slash("checkin", [{"type": 1, "name": "on", "options": []}])).text()
    dm = await h.dm_channel_id()
    for n, text in enumerate(SIE, 1):
        await h.dm(text)
        await h.replies(dm, n)
        await h.bot.in_flight.drain()
    day = (datetime.now(UTC) + timedelta(days=3)).replace(hour=12, minute=0, second=0, microsecond=0)
    h.claude.script("Guten Tag, Alice! Wie geht es Ihnen?", match=checkin_request)
    assert await run_round(h, "checkins", day) == "1 of 1 check-in(s) sent"
    asked = h.claude.all_text([r for r in h.claude.requests if checkin_request(r.body)][-1])
    assert LINE.search(asked), asked[-1500:]
    # his own words are there to read the register from
    assert SIE[-1] in asked


async def test_a_reminder_to_a_spanish_person_is_asked_in_spanish(make_harness: MakeHarness) -> None:
    h = await make_harness()
    h.claude.script(Reply(tools=set_reminder(text="llamar a mi madre", in_minutes=2)), times=2)
    sent = await h.dm("Recuérdame dentro de dos minutos que tengo que llamar a mi madre, por favor")
    dm = int(sent["channel_id"])
    await h.replies(dm)
    [row] = await h.store.reminders.open_for(USER_ID)
    await h.stop_bot()
    await due_now(h, row.id)
    h.claude.script("¡Alice! Es hora de llamar a tu madre.",
                    match=lambda b: "<reminder" in FakeClaude.all_text(b))
    await h.start_bot()
    await h.discord.wait_for(lambda d: [m for m in bot_posts(h, dm) if "llamar a tu madre" in m["content"]],
                             what="the reminder")
    delivery = FakeClaude.all_text(h.claude.requests[-1].body)
    assert "Write to alice in Spanish; address alice as formally or as familiarly" in delivery


async def test_a_proactive_line_where_people_write_spanish_is_asked_in_spanish(
        make_harness: MakeHarness) -> None:
    """No /settings language here: the channel's own lines tell it (a server that set one keeps its own,
    tests/test_alive_proactive.py)."""
    h = await make_harness(proactive_chance="1", yes_no_vote_count="1")
    await bot_switch(h, "proactive", "on")
    said = await unaddressed(h, "el bosque de algas está precioso hoy, ¿verdad que sí?")
    proactive_round(h).rng = Rolls(0.0, 0.2)  # within the chance; a comment
    h.claude.script("¡Las algas son la bufanda del océano!", match=proactive)
    assert await run_round(h, "proactive", sent_at(said) + timedelta(minutes=5)) == \
        "spoke in 1 of 1 channel(s)"
    text = h.claude.all_text(h.claude.last_request("claude-test-default"))
    assert "[Language: people here write in Spanish: write in Spanish.]" in text


def test_the_line_names_the_language_of_their_words_before_a_profile_tells_it() -> None:
    assert spoken_language(None, "Hola, ¿me recuerdas mañana llamar a mi madre?") == "Spanish"
    line = unprompted_line(None, "Sofía", "Hola, ¿me recuerdas mañana llamar a mi madre?")
    assert "Write to Sofía in Spanish; address Sofía as formally" in line
    assert unprompted_line(None, "Sofía", "ok") == ""
    profile = None
    for text in ("Buenos días, ¿cómo está usted hoy?", "Le agradezco mucho su ayuda de ayer.",
                 "¿Podría usted recordarme la cita con el médico?"):
        profile = learn(profile, text)
    assert "in Spanish" in unprompted_line(profile, "Sofía", "")
