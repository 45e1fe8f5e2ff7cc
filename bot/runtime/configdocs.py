"""``python -m bot.runtime.configdocs sync-docs`` rewrites config.env.example and docs/configuration.md;
``example`` and ``markdown`` print them. Here, over the features, not in bot/core/config: the docs list every
feature's settings section, which registers when its ``FEATURE`` is declared (importing FEATURES)."""

from __future__ import annotations

import sys

from bot.core.config.docs import render_example, render_markdown, sync_docs
from bot.features import FEATURES


def main(argv: list[str]) -> None:
    assert FEATURES  # imported for their registrations: each feature's settings section
    if argv == ["sync-docs"]:
        sync_docs()
    else:
        print(render_markdown() if argv == ["markdown"] else render_example())


if __name__ == "__main__":
    main(sys.argv[1:])
