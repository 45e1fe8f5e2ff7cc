"""The process's budget of image bytes in flight (bot/reply/media.py ImageBudget): a reply whose pictures
would pass it waits for earlier replies' calls to end, in order, never refused; over the wire, a second
person's pictures are not even downloaded while the first's request is out, and still reach Claude after."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

from bot.core.models.base import Prompt
from bot.reply.imagebudget import ImageBudget
from bot.reply.media import ImagePart, Media
from tests.fakes.claude_server import Reply
from tests.fakes.discord_cdn import SAMPLES
from tests.harness import USER2_ID, USER_ID, Harness, eventually
from tests.test_e2e_empty_turns import REPLY_MODEL, reply_requests
from tests.test_e2e_media import images_in

PNG = (SAMPLES / "python.png").read_bytes()
JPEG = (SAMPLES / "python.jpg").read_bytes()


async def test_the_budget_bounds_what_is_held_and_serves_in_order() -> None:
    budget = ImageBudget(100)
    first = await budget.take(60)
    second = asyncio.ensure_future(budget.take(50))  # 110 would pass the bound: it waits
    third = asyncio.ensure_future(budget.take(10))  # would fit, but comes after the second
    await asyncio.sleep(0)  # both reach their turn in line (no time passes)
    assert not second.done() and not third.done() and budget.held == 60
    first.release()
    lease2, lease3 = await second, await third
    assert budget.held == 60 and budget.peak <= 100
    lease2.release()
    lease2.release()  # a second release gives nothing back twice
    lease3.release()
    assert budget.held == 0 and budget.peak == 60


async def test_a_reply_larger_than_the_budget_goes_alone_and_a_cancelled_wait_gives_way() -> None:
    budget = ImageBudget(100)
    big = await budget.take(500)  # counted as the whole budget: it goes when nothing else is held
    assert budget.held == 100
    cancelled = asyncio.ensure_future(budget.take(80))
    behind = asyncio.ensure_future(budget.take(30))
    await asyncio.sleep(0)
    cancelled.cancel()
    big.release()
    lease = await behind  # not stuck behind the one that left
    assert budget.held == 30 and cancelled.cancelled()
    lease.release()
    assert budget.held == 0 and budget.peak == 100


async def test_media_lets_its_pictures_go_once_seen() -> None:
    image = ImagePart.of("a.png", "image/png", PNG)
    media = Media(images=(image,))
    built = media.into(Prompt(system="s", messages=[{"role": "user", "content": "look"}]))
    assert built.messages[-1]["content"][0]["source"]["data"] == base64.b64encode(PNG).decode()
    assert built.messages[-1]["content"][0]["source"]["data"] is image.encoded  # one string, not a copy
    assert media.seen().images == ()


async def test_a_second_persons_pictures_wait_for_the_budget_and_reach_claude(make_harness: Any) -> None:
    # room for one message's pictures at a time
    h: Harness = await make_harness(image_bytes_in_flight=str(2 * len(PNG) + len(JPEG)))
    held = asyncio.Event()
    h.claude.script(Reply("Lovely!", held=held), model=REPLY_MODEL)
    h.claude.script("Nice ones too.", model=REPLY_MODEL)
    first = [h.discord.attachment("a.png", content_type="image/png", data=PNG),
             h.discord.attachment("b.jpg", content_type="image/jpeg", data=JPEG)]
    second = [h.discord.attachment("c.png", content_type="image/png", data=PNG),
              h.discord.attachment("d.png", content_type="image/png", data=PNG)]
    await h.dm("look at mine", attachments=first)
    await h.claude.wait_for_requests(1)  # alice's request is out, its answer held

    await h.dm("and mine", user=USER2_ID, attachments=second)
    assert h.bot is not None
    budget = h.bot.services.images  # the process's budget
    async def waiting() -> bool:
        return budget.waiting == 1

    await eventually(waiting, "bob's reply to wait for the budget")
    # Nothing of bob's pictures was read meanwhile, and his request waits.
    assert sorted(h.discord.cdn_requests) == sorted(int(a["id"]) for a in first)
    assert len(reply_requests(h)) == 1

    held.set()
    await h.replies(await h.dm_channel_id(USER_ID))
    [reply] = await h.replies(await h.dm_channel_id(USER2_ID))
    assert reply["content"] == "Nice ones too."
    alice, bob = reply_requests(h)
    for request, files in ((alice, (PNG, JPEG)), (bob, (PNG, PNG))):
        assert request.status == 200
        assert [base64.b64decode(b["source"]["data"]) for b in images_in(request)] == list(files)
    assert budget.peak <= budget.limit and budget.held == 0
