"""Memory that lasts: what the character keeps about people beyond one conversation.

* :mod:`memory.summarizer`: long conversations summarized in the background, core memories rewritten;
* :mod:`memory.consolidation`: the daily job turning the short-term log into facts, relationship changes
  and archived messages (``python main.py consolidate --now`` runs it by hand);
* :mod:`memory.facts`, :mod:`memory.embeddings`: extracted facts, their embeddings, the per-user vector cache;
* :mod:`memory.recall`: facts recalled into each reply's prompt within a token budget;
* :mod:`memory.consent`: who may be remembered (``memory_consent``, /memory opt-in | opt-out);
* :mod:`memory.relationships`: the character's feelings toward people
  (its daily mood, its feelings of the moment, emotions and style mirroring live in bot/alive/);
* :mod:`memory.svgmap`: the /memory map picture;
* :mod:`memory.service`: all of it hooked into a running bot as ``bot.services.memory``.
"""
