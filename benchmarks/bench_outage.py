"""Model requests per message during an overload outage: the fake Claude answers every request 529 with a
short ``retry-after`` (50 ms) for the whole run, and messages are sent through the shared model client
(the real anthropic SDK over HTTP, the reply path's call) as people would write them.

Measured: requests the fake Claude received per message, for one person alone (one message at a time for
the whole outage) and for ``--people`` writing at once (each sends one message, all at the same moment, then
again whenever they got their fallback). The outage lasts ``--outage`` seconds, 60 by default (the real
reply deadline, ``llm_timeout``, is also 60 s); ``--quick`` runs 15 s with a 15 s deadline instead.
Before bounded retries and the overload breaker one message made 992 requests in a 60 s outage.
Target: at most a handful (4) of requests per message, and fewer with more people writing at once.

Run: python -m benchmarks.bench_outage [--quick] [--outage 60] [--people 10]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from bot.core.claude import ClaudeClient, ClaudeUnavailable, Prompt
from bot.core.config import load_settings
from tests.fakes.claude_server import FakeClaude

PROMPT = Prompt(system=[{"type": "text", "text": "You are Finn."}],
                messages=[{"role": "user", "content": [{"type": "text", "text": "hello"}]}])


async def run(outage: float, people: int) -> tuple[int, int]:
    """(messages sent, requests the fake received) while ``people`` keep writing through the outage."""
    folder = Path(tempfile.mkdtemp(prefix="kindred-bench-"))
    (folder / "character.env").write_text('core_prompt="x"\n')
    async with FakeClaude(zero_latency=True) as fake:
        settings = load_settings(folder, None, environ={
            "ANTHROPIC_API_KEY": "k", "DISCORD_TOKEN": "t", "ANTHROPIC_BASE_URL": fake.base_url,
            "LLM_TIMEOUT": f"{outage:g}", "DEFAULT_MODEL": "claude-sonnet-test",
            "MODEL_CAPABILITIES": "claude-sonnet-test=sonnet-4.6"})
        client = ClaudeClient(settings, None)
        fake.fail_all(529, retry_after=0.05)
        ends = time.monotonic() + outage
        sent = 0

        async def person(user_id: int) -> None:
            nonlocal sent
            while time.monotonic() < ends:
                sent += 1
                try:
                    await client.generate(PROMPT, model="claude-sonnet-test", user_id=user_id, guild_id=None,
                                          timeout=max(ends - time.monotonic(), 0.1))
                except ClaudeUnavailable:
                    pass

        try:
            await asyncio.gather(*(person(i) for i in range(people)))
        finally:
            await client.close()
        return sent, len(fake.requests)


async def main_async(outage: float, people: int) -> None:
    for count in (1, people):
        sent, requests = await run(outage, count)
        print(f"{count:>3} writing through a {outage:g} s 529 outage: {sent} messages, {requests} requests, "
              f"{requests / sent:.2f} requests per message")


def main(args: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 15 s outage")
    parser.add_argument("--outage", type=float, default=60.0)
    parser.add_argument("--people", type=int, default=10)
    options = parser.parse_args(args)
    asyncio.run(main_async(15.0 if options.quick else options.outage, options.people))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
