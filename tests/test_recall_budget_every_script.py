"""The recall budget holds as many facts in every language: a line is counted as the tokens its English would
take (bot/core/tokens.py TOKENS_PER_ENGLISH_TOKEN), so a person who writes Japanese or Chinese gets as much
memory as one who writes English, at more prompt tokens. Over the wire, with the multilingual pair of models:
the same facts about a cat, kept in English for one person and in Japanese or Chinese (with their English
wording, as the extraction keeps them) for another, asked about in each one's language; what the fake
Claude receives is counted."""

from __future__ import annotations

import pytest

from bot.core.tokens import TOKENS_PER_ENGLISH_TOKEN, count_tokens, english_tokens, language_factor
from memory.embeddings import glossed
from tests.harness import USER2_ID, USER_ID, Harness, MakeHarness

BUDGET = "90"  # tokens: a few of the facts below, in any language

MISO = (
    ("Alice's cat Miso sleeps on the piano", "アリスの猫ミソはピアノの上で寝る", "爱丽丝的猫味噌睡在钢琴上"),
    ("Miso is afraid of the vacuum cleaner", "ミソは掃除機を怖がる", "味噌害怕吸尘器"),
    ("Miso eats tuna every Sunday", "ミソは毎週日曜日にマグロを食べる", "味噌每个星期天吃金枪鱼"),
    ("Miso was adopted from a shelter in Leeds", "ミソはリーズの保護施設から引き取られた",
     "味噌是从利兹的收容所领养的"),
    ("Miso has one white paw", "ミソは片方の足だけが白い", "味噌有一只白色的爪子"),
    ("Miso likes watching birds from the window", "ミソは窓から鳥を眺めるのが好きだ", "味噌喜欢从窗户看鸟"),
    ("Miso is eight years old", "ミソは八歳だ", "味噌八岁了"),
    ("Miso chases the red laser dot", "ミソは赤いレーザーの点を追いかける", "味噌追着红色的激光点跑"),
    ("Miso hides under the bed during storms", "ミソは嵐の時にベッドの下に隠れる", "暴风雨时味噌躲在床底下"),
    ("Miso drinks water only from the tap", "ミソは蛇口の水しか飲まない", "味噌只喝水龙头里的水"),
    ("Miso knocks cups off the table", "ミソはテーブルからコップを落とす", "味噌把杯子从桌上推下去"),
    ("Miso purrs loudly at night", "ミソは夜に大きな声で喉を鳴らす", "味噌晚上大声地打呼噜"),
)
ASKED = {"en": "What do you remember about my cat Miso?", "ja": "私の猫のミソについて何を覚えてる？",
         "zh": "你还记得我的猫味噌的什么事？"}
COLUMN = {"en": 0, "ja": 1, "zh": 2}


async def _recalled(h: Harness, code: str, user: int, name: str) -> list[str]:
    """The facts recalled for the question in ``code`` asked in a DM by ``user``, whose facts are kept in
    that language."""
    await h.store.people.ensure_user(user, name)
    embed = h.bot.services.memory.embed
    for row in MISO:
        text, english = row[COLUMN[code]], row[0] if code != "en" else None
        await h.store.facts.add(user, text.replace("Alice", name.title()),
                                embedding=await embed(glossed(text, english)), category="personal",
                                gloss=english)
    dm = await h.dm_channel_id(user)
    await h.dm(ASKED[code], user=user)
    await h.replies(dm, 1)
    prompt = h.claude.last_request("claude-test-default").all_text()
    part = prompt.split(f'<recalled_facts about="{name}"', 1)[1].split("</recalled_facts>", 1)[0]
    return [line[2:] for line in part.splitlines() if line.startswith("- ")]


@pytest.mark.parametrize("code", ["ja", "zh"])
async def test_the_budget_holds_as_many_facts_in_japanese_and_chinese_as_in_english(
        make_harness: MakeHarness, code: str) -> None:
    budgets = {"recall_token_budget": BUDGET, "memory_recall_token_budget": BUDGET}
    h = await make_harness(embedding_model="paired", **budgets)
    english = await _recalled(h, "en", USER2_ID, "bob")
    theirs = await _recalled(h, code, USER_ID, "alice")
    assert 3 <= len(english) < len(MISO)  # the budget binds
    # as many facts (a fact's own ratio is near its language's measured one, not always at it: a sentence
    # a little shorter than usual in it may let one more in)
    assert len(theirs) >= len(english) - 1 and set(theirs) <= {row[COLUMN[code]] for row in MISO}, theirs
    # at more prompt tokens: counted as tokens, their lines alone would not fit the budget
    assert sum(count_tokens(f) for f in theirs) > int(BUDGET) > sum(count_tokens(f) for f in english)


def test_a_line_is_counted_as_its_english_would_be() -> None:
    for english, japanese, chinese in MISO[:3]:
        assert language_factor(english) == 1.0
        assert language_factor(japanese) == TOKENS_PER_ENGLISH_TOKEN["ja"]
        assert language_factor(chinese) == TOKENS_PER_ENGLISH_TOKEN["zh"]
    assert language_factor("ok") == 1.0  # too short to tell: as English
    assert english_tokens(27, 2.7) == 10 and english_tokens(0, 2.7) == 0 and english_tokens(1, 2.7) == 1
