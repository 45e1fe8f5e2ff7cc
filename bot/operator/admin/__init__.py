"""Administration without Discord, one module per concern:

* :mod:`bot.operator.admin.language`: the log channel's command language (``shutdown?``, ``user data?``,
  ``list users``, ``premium``, ``verbose``, ``status``, ``testlog``), the ids admins type, and every text
  admin answers are made of (user figures, never message text; the users list; verbose lines; status; the
  latency warning);
* :mod:`bot.operator.admin.heartbeat`: the gateway-latency heartbeat, and which shards' latency deserves a
  warning;
* :mod:`bot.operator.admin.users`, :mod:`bot.operator.admin.edits`, :mod:`bot.operator.admin.memories`:
  the reads and edits behind the log-channel commands and the admin slash commands (users and premium;
  identity, relationship, global state; long-term facts and core memories), gathered by
  :class:`bot.operator.admin.tools.AdminTools`, which the bot creates once (``bot.services.admin``).

The log channel (``bot/discord/logchannel.py``) and the admin cogs (``cogs/admin.py``,
``cogs/admin_slash.py``) only translate Discord into these calls and
answers back. Every answer is a ready-to-send string; bad input raises
:class:`~bot.operator.conversation_tools.InvalidInput` with a one-line explanation.
"""
