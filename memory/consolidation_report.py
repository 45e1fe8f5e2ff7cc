"""What a consolidation run did, for its log line and the admin's report, and how far it has come, for a
progress bar (memory/consolidation.py runs it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

ProgressHook = Callable[[int, int], None]  # (messages done, messages in the run)


@dataclass
class ConsolidationReport:
    messages: int = 0
    purged: int = 0
    archived: int = 0
    batches: int = 0
    committed: int = 0
    skipped: int = 0  # Claude failed or answered badly twice: messages kept for the next run
    conflicts: int = 0  # the messages had already left the log
    users: int = 0
    new_facts: int = 0
    mentioned_facts: int = 0
    updated_facts: int = 0  # known facts replaced by a new text (the old one closed, kept as history)
    retired_facts: int = 0  # known facts no longer true (closed) or to be forgotten (deleted)
    excerpts: int = 0  # messages indexed for episodic recall
    relationship_updates: int = 0
    pruned_facts: int = 0
    refreshed_memories: int = 0  # core-memory sets rewritten because facts closed
    refreshed_summaries: int = 0  # conversation summaries rewritten because facts closed
    seconds: float = 0.0
    claude_seconds: float = 0.0  # wall time spent waiting for Claude (summed over concurrent calls)
    malformed: int = 0  # answers that did not parse (each asked again once): none with structured outputs
    embed_seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return (f"{self.messages} messages: {self.archived} archived, {self.purged} deleted (no consent); "
                f"{self.committed}/{self.batches} batches of {self.users} users committed, {self.skipped} "
                f"skipped, {self.conflicts} already handled; facts: {self.new_facts} new, "
                f"{self.mentioned_facts} mentioned "
                f"again, {self.updated_facts} updated, {self.retired_facts} retired, "
                f"{self.pruned_facts} expired; {self.excerpts} messages indexed for recall; "
                f"{self.relationship_updates} relationships updated; "
                f"{self.seconds:.1f}s ({self.claude_seconds:.1f}s waiting for Claude)")


class Progress:
    """Messages handled so far (learnt from and archived, archived, or deleted), for a progress bar. The
    messages of a skipped batch stay in the log for the next run: they are not done, and a run that skipped
    some never reads 100 %."""

    def __init__(self, total: int, hook: ProgressHook | None) -> None:
        self.total = total
        self.done = 0
        self.skipped = 0
        self.hook = hook
        if hook is not None:
            hook(0, total)

    def add(self, messages: int) -> None:
        self.done += messages
        if self.hook is not None:
            self.hook(min(self.done, self.total), self.total)

    def skip(self, messages: int) -> None:
        self.skipped += messages
