"""The operator's dashboard: a small web UI served by the bot process (``dashboard_port``) or alone against
its database (``python main.py dashboard``).

**Why this stack.** aiohttp.web is already in the process (discord.py runs on aiohttp; the test fakes use
its server), runs on the bot's own asyncio loop, and serves server-sent events with a plain streaming
response: no second server, thread or framework. Pages are rendered on the server with Jinja2 (Pallets;
already installed with torch, named as a dependency for this), whose autoescaping is on for every template,
since names, memories and facts are other people's text. Charts are SVG drawn in Python (``charts.py``).
The pages work without JavaScript; one small script of our own (``static/live.js``) adds the live stream.
Nothing is fetched from elsewhere, so it works offline, and the Content-Security-Policy says so.

Layout: ``app.py`` routes and the server, ``auth.py`` login, guard and headers, ``sessions.py``,
``render.py`` templates and helpers, ``pages.py`` / ``people.py`` / ``prompts.py`` (the prompt inspector)
the pages, ``actions.py`` the edits (each through :class:`bot.operator.admin.AdminTools`, as the slash
commands), ``live.py`` the decision stream,
``charts.py``, ``context.py`` what the dashboard works with.
"""

from bot.operator.dashboard.app import Dashboard, create_app, serve_alone
from bot.operator.dashboard.context import DashboardContext, Forget, RunningBot, standalone_context

__all__ = ["Dashboard", "DashboardContext", "Forget", "RunningBot", "create_app", "serve_alone",
           "standalone_context"]
