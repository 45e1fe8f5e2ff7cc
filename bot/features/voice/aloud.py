"""A reply that will be spoken: to a member's words in a voice call (bot/discord/voicechat/talk.py), whose
answer is read aloud in the character's voice as it is written. Its prompt says so (an instruction after the
history), so the model writes speech: short, no actions nor markdown a voice would read out, numbers and
names as they are said. (What is spoken drops them anyway, bot/features/voice/speech.py ``spoken_text``: the
prompt keeps the reply from leaning on them.)
"""

from __future__ import annotations

from bot.core.persona.model import Persona
from bot.core.stages import Incoming
from database.records import PromptData

VIA_CALL = "call"  # ``Incoming.via`` of a member's words in a call (bot/discord/voicechat/talk.py)

SPOKEN = ("[Spoken aloud: this reply will be read out in your voice in the voice call, so write it as "
          "speech. Keep it short, a sentence or a few, the way people talk. No actions in asterisks, no "
          "emotes, no markdown, lists or links. Write numbers, times, amounts and names as they are said "
          "(\"half past nine\", \"twenty dollars\").]")


class SpokenReply:
    """The prompt part (an instruction) of a reply that will be spoken in a voice call."""

    slot = "instructions"
    in_dms = False  # a call is in a server's voice channel

    async def supply(self, persona: Persona, msg: Incoming, data: PromptData) -> str:
        return SPOKEN if msg.via == VIA_CALL else ""
