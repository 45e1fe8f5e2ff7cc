"""Votes that parse: how many yes/no votes come back unreadable when the voting model answers sloppily, with
the one-word vote and with the vote held to a strict JSON schema (structured outputs, issue 48).

The fake Claude answers each vote with a word drawn (seeded) from :data:`ANSWERS`: what a small model says
when it does not keep to one word. On the one-word path the client reads it leniently
(bot/reply/deciding/voting.py);
under the schema the fake decodes it into ``{"vote": ...}`` as the real API's constrained decoding would.
Reported per path: votes asked, parse failures and retries (the model client's counters, which /status
shows), and votes read otherwise than meant (an unreadable vote counts as no: a missed reply).

Run: python -m benchmarks.bench_votes [--votes 300] [--model claude-haiku-5-5] [--seed 48] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import tempfile
from pathlib import Path

from bot.core.claude import ClaudeClient, Prompt
from bot.core.config import load_settings
from bot.reply.deciding import Ballot
from tests.fakes.claude_server import FakeClaude

# (what the model said, what it meant): a tidy word most of the time, and the ways it strays
ANSWERS = (("yes", True), ("no", False), ("Yes.", True), ("No.", False), ("**no**", False),
           ("I think yes", True), ("Probably yes: they asked her.", True), ("Yeah, yes", True),
           ("Nope", False), ("Definitely not.", False))
WEIGHTS = (30, 30, 8, 8, 5, 5, 4, 4, 3, 3)


async def run(model: str, votes: int, seed: int, structured: bool) -> tuple[int, int, int]:
    """Parse failures, retries, and votes read otherwise than meant, over ``votes`` votes."""
    fake = await FakeClaude(zero_latency=True).start()
    folder = Path(tempfile.mkdtemp(prefix="kindred-bench-"))
    (folder / "character.env").write_text('default_name="Bench"\ncore_prompt="You are Bench."\n')
    capabilities = "" if structured else f"{model}[structured_outputs]=false"
    settings = load_settings(folder, None, environ={
        "ANTHROPIC_API_KEY": "fake", "ANTHROPIC_BASE_URL": fake.base_url, "DISCORD_TOKEN": "unused",
        "VOTING_MODEL": model, "MODEL_CAPABILITIES": capabilities})
    client = ClaudeClient(settings, None)
    draw = random.Random(seed)
    prompt = Prompt(system=[{"type": "text", "text": "Answer with exactly one word: yes or no."}],
                    messages=[{"role": "user", "content": "Should Bench reply to the latest message?"}])
    wrong = 0
    try:
        for _ in range(votes):
            said, meant = draw.choices(ANSWERS, WEIGHTS)[0]
            fake.script(said)
            (answer,) = await Ballot(client, client.settings).ask(prompt, count=1, user_id=None,
                                                                  guild_id=None)
            wrong += bool(answer) != meant
        return client.tally.parse_failures["vote"], client.tally.parse_retries["vote"], wrong
    finally:
        await client.close()
        await fake.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--votes", type=int, default=300)
    parser.add_argument("--model", default="claude-haiku-5-5")
    parser.add_argument("--seed", type=int, default=48)
    parser.add_argument("--quick", action="store_true", help="60 votes per path")
    args = parser.parse_args()
    votes = 60 if args.quick else args.votes
    logging.basicConfig(level=logging.WARNING)
    print(f"{votes} votes on {args.model}, sloppy answers drawn with seed {args.seed}")
    for structured, label in ((False, "one word (before)"), (True, "strict schema (after)")):
        failures, retries, wrong = asyncio.run(run(args.model, votes, args.seed, structured))
        print(f"  {label}: {failures} parse failures ({failures / votes:.1%}), {retries} retries, "
              f"{wrong} votes read otherwise than meant")


if __name__ == "__main__":
    main()
