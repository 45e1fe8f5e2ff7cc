"""``python -m bot.core.config sync-docs`` rewrites config.env.example and docs/configuration.md;
``example`` and ``markdown`` print them."""

import sys

from bot.core.config.docs import render_example, render_markdown, sync_docs

if sys.argv[1:] == ["sync-docs"]:
    sync_docs()
else:
    print(render_markdown() if sys.argv[1:] == ["markdown"] else render_example())
