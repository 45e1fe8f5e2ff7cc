"""``python main.py consolidate --now``: one run of the nightly work from the command line: the daily
consolidation (memory/consolidation.py), with one progress bar on stderr and its summary printed once, the
day's mood (bot/alive/mood.py, as the bot's nightly job sets it after the consolidation), then
the retention (database/retention.py: old model calls added up, archived messages past
``archive_retention_days`` deleted with their excerpts), which the bot runs half an hour after its nightly
consolidation."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Protocol

from bot.alive.mood import ensure_daily_mood
from bot.core.character import CharacterSource
from bot.core.claude import ClaudeClient
from bot.core.config import Settings
from database.retention import Pruned
from database.store import Store
from memory.consent import Consent
from memory.consolidation import Consolidator
from memory.consolidation_report import ConsolidationReport
from memory.embeddings import Embedder, make_embedder, model_id_of
from memory.summarizer import Summarizer

log = logging.getLogger(__name__)


class _Tqdm(Protocol):
    """What the bar uses of tqdm's (tqdm ships no type hints)."""

    total: int
    n: int

    def refresh(self) -> None: ...
    def update(self, n: int) -> None: ...
    def set_postfix_str(self, s: str, refresh: bool = True) -> None: ...
    def close(self) -> None: ...


class _Bar:
    """The command line's one progress bar: tqdm on stderr (a plain counter if tqdm is missing)."""

    def __init__(self) -> None:
        self._bar: _Tqdm | None = None  # made at the first report, when the total is known

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            try:
                from tqdm import tqdm
            except ImportError:  # pragma: no cover - tqdm ships with the dependencies
                print(f"\rconsolidating: {done}/{total} messages", end="", file=sys.stderr, flush=True)
                return
            self._bar = tqdm(total=total, unit="msg", desc="consolidating", file=sys.stderr,
                             dynamic_ncols=True)
        if self._bar.total != total:
            self._bar.total = total
            self._bar.refresh()
        self._bar.update(done - self._bar.n)

    def close(self, skipped: int = 0) -> None:
        """Stop where the run got to: a run that skipped messages ends short of 100 %."""
        if self._bar is not None:
            if skipped:
                self._bar.set_postfix_str(f"{skipped} skipped", refresh=False)
            self._bar.close()


@contextlib.contextmanager
def quiet_while_the_bar_runs() -> Iterator[None]:
    """While the bar runs: no progress bars of the model libraries (Hugging Face downloads and loading; the
    launcher's bot.runtime.startup.quiet_libraries has quieted their loggers already), no INFO lines through
    the bar (warnings and errors are written above it); the caller prints the run's summary once."""
    with contextlib.suppress(ImportError):
        from huggingface_hub.utils.tqdm import disable_progress_bars

        disable_progress_bars()
    with contextlib.suppress(ImportError):
        import transformers

        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()
    try:
        from tqdm.contrib.logging import logging_redirect_tqdm
    except ImportError:  # pragma: no cover
        redirect: contextlib.AbstractContextManager[object] = contextlib.nullcontext()
    else:
        redirect = logging_redirect_tqdm()  # swaps the terminal handlers for ones that write above the bar
    with redirect:
        root = logging.getLogger()
        streams = [h for h in root.handlers
                   if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)]
        levels = [h.level for h in streams]
        for handler in streams:
            handler.setLevel(max(handler.level, logging.WARNING))
        try:
            yield
        finally:
            for handler, level in zip(streams, levels, strict=True):
                handler.setLevel(level)


async def run_consolidation_cli(settings: Settings, character: CharacterSource, *,
                                embedder: Embedder | None = None) -> int:
    """``python main.py consolidate --now``: one run with one progress bar on stderr, then its summary, then
    the retention as the settings give it, and what it deleted.

    Exit code 0 when every batch was handled, 1 when some were skipped (Claude failed; their messages stay in
    the log for the next run), 3 on an unexpected error."""
    pruned: Pruned | None = None
    with quiet_while_the_bar_runs():
        store = await Store(settings.resolved_database_url()).open()
        claude = ClaudeClient(settings, store.usage)
        try:
            report = await _consolidate_with_bar(settings, character, store, claude, embedder)
            await ensure_daily_mood(store.state, claude, character.current(), datetime.now(UTC).date())
        except Exception:
            log.exception("consolidation failed")
            report = None
        try:
            # Whatever the consolidation did: what the retention deletes never depended on it.
            pruned = await store.retention.prune(datetime.now(UTC),
                                                 usage_days=settings.storage.usage_retention_days,
                                                 archive_days=settings.storage.archive_retention_days)
        except Exception:
            log.exception("retention failed")
        finally:
            await claude.close()
            await store.close()
    if report is not None:
        kept = (f"; {report.skipped} {'batch' if report.skipped == 1 else 'batches'} skipped, their "
                "messages stay in the log for the next run" if report.skipped else "")
        print(f"consolidation done: {report.describe()}{kept}", file=sys.stderr)
        for error in report.errors:
            print(f"  {error}", file=sys.stderr)
    if pruned is not None:
        print(f"retention done: {pruned.describe()}", file=sys.stderr)
    if report is None or pruned is None:
        return 3
    return 1 if report.skipped else 0


async def _consolidate_with_bar(settings: Settings, character: CharacterSource, store: Store,
                                claude: ClaudeClient, embedder: Embedder | None) -> ConsolidationReport:
    key = settings.character_name_slug  # the name the bot files data under (pipeline.character_key)
    embedder = embedder or make_embedder(settings.memory.embedding_model)
    store.db.embedding_model = model_id_of(embedder)  # vectors tagged with, and read of, this model only
    load = getattr(embedder, "load", None)
    if load is not None:
        await asyncio.to_thread(load)  # before the bar, which would sit at 0 while a model loads
    bar = _Bar()
    progress = [(0, 0)]

    def on_progress(done: int, total: int) -> None:
        progress.append((done, total))
        bar(done, total)

    consent = Consent(store.servers, store.people, settings.memory.memory_consent)
    memories = Summarizer(store, claude, settings.memory, key, character.current, consent)
    consolidator = Consolidator(store, claude, settings.memory, key, character.current, embedder,
                                on_progress=on_progress, consent=consent, memories=memories)
    try:
        report = await consolidator.run()
    finally:
        done, total = progress[-1]
        bar.close(skipped=total - done)
    # The process ends here: the excerpts' vectors, which a running bot adds in the background, come now.
    embedded = await consolidator.embedded()
    if embedded:
        print(f"embedded {embedded} archived messages for episodic recall", file=sys.stderr)
    return report
