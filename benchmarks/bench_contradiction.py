"""When a later session changes an earlier fact, does recall put the current value first?

A small set of change-of-fact pairs curated from LoCoMo's development half (shared/data/locomo/
locomo_dev.json; see benchmarks/bench_locomo.py for the format): an earlier observation that a later
session makes out of date (a lost job and the business started since, an injury and the recovery, a script
and the rejection letter), each with a question a person would ask about it now. Every observation of the
conversation is one fact of one person, embedded with the shipped model and dated by its session, as
bench_locomo stores them; each question is asked on the day after the last session through the ranking a
reply uses (:func:`memory.recall.choose`, ``--budget`` tokens, shipped weights).

Two states of the same facts:

* ``both current``: as the store kept them before facts had a history: the old value is a current fact
  beside the new one;
* ``old closed``: as consolidation keeps them now, the old fact updated by the new one (closed at the new
  one's session, its text standing for its past wording; memory/reconcile.py).

Reported per state, for all pairs and for bench_locomo's tuning (conv-26, conv-30, conv-41) and held-out
(conv-42, conv-43) parts: ``current first`` (the share of pairs where the new fact is recalled and ranks
before the old one, or the old one is not recalled), ``new recalled`` and ``old recalled`` (shares within
the budget).
In the ``old closed`` state a recalled old fact is shown only as history ("... (until May 2023)").

Run: python -m benchmarks.bench_contradiction --data ../shared/data/locomo/locomo_dev.json [--budget 400]
     [--json OUT] [--verbose]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.bench_locomo import Observation, Sample, read_samples
from database.records import FactRow
from memory.embeddings import Embedder, SentenceEmbedder, to_bytes
from memory.facts import FactIndex
from memory.recall import choose, subject_of


@dataclass(frozen=True)
class Change:
    sample: str
    old: str  # the turn id of the observation made out of date
    new: str  # the turn id of the later one that changes it
    question: str


# Curated by reading the observations of the development half: the later one replaces what the earlier
# one said is the case now (not merely adds to it).
CHANGES = (
    Change("conv-26", "D5:4", "D17:8", "Is Melanie still doing pottery?"),
    Change("conv-26", "D13:1", "D19:1", "How far along is Caroline with adopting?"),
    Change("conv-30", "D1:3", "D6:6", "What does Gina do for work now?"),
    Change("conv-30", "D1:2", "D9:1", "What does Jon do for a living?"),
    Change("conv-30", "D3:1", "D15:3", "Has Jon found a place for his dance studio yet?"),
    Change("conv-41", "D19:6", "D28:1", "Is John still at the mechanical engineering company?"),
    Change("conv-41", "D25:1", "D28:5", "Where does John work these days?"),
    Change("conv-41", "D17:1", "D31:7", "Does John have a dog?"),
    Change("conv-42", "D5:1", "D14:1", "What happened with Joanna's script?"),
    Change("conv-42", "D2:3", "D17:14", "What is Joanna writing at the moment?"),
    Change("conv-42", "D17:14", "D22:9", "Is Joanna still writing her book?"),
    Change("conv-42", "D2:12", "D28:25", "How many turtles does Nate have?"),
    Change("conv-43", "D18:10", "D24:16", "How is John's injury?"),
    Change("conv-43", "D10:1", "D28:1", "What is Tim doing next?"),
)


@dataclass
class Tally:
    pairs: int = 0
    current_first: int = 0
    new_recalled: int = 0
    old_recalled: int = 0

    def share(self, n: int) -> float:
        return n / self.pairs if self.pairs else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"pairs": self.pairs, "current_first": round(self.share(self.current_first), 3),
                "new_recalled": round(self.share(self.new_recalled), 3),
                "old_recalled": round(self.share(self.old_recalled), 3)}


def facts_of(sample: Sample, vectors: np.ndarray) -> list[FactRow]:
    return [FactRow(i + 1, o.text, "other", False, False, 1, o.said, o.said, to_bytes(v), lasting=True,
                    said_at=o.said)
            for i, (o, v) in enumerate(zip(sample.observations, vectors, strict=True))]


def position(chosen: Sequence[FactRow], ids: set[int]) -> int | None:
    return next((k for k, row in enumerate(chosen) if row.id in ids), None)


def carrying(observations: Sequence[Observation], turn: str) -> set[int]:
    """The fact ids (1-based positions) of the observations carrying a turn id."""
    return {i + 1 for i, o in enumerate(observations) if turn in o.turns}


def closed(rows: list[FactRow], old: set[int], new: set[int]) -> list[FactRow]:
    """The rows with the old facts updated by the (first) new one, as consolidation closes them."""
    by = min(new)
    until = next(r.told for r in rows if r.id == by)
    return [replace(r, valid_until=until, superseded_by=by, past=r.fact) if r.id in old else r for r in rows]


TUNING = frozenset({"conv-26", "conv-30", "conv-41"})  # the rest of the development half is held out
STATES = ("both current", "old closed")


def measure(samples: Sequence[Sample], embedder: Embedder, budget: int,
            verbose: bool = False) -> dict[str, Tally]:
    """Tallies by "<state>" (all pairs) and "<state>, tuning" / "<state>, held-out" (bench_locomo's split)."""
    by_name = {s.name: s for s in samples}
    out = {f"{state}{part}": Tally() for state in STATES for part in ("", ", tuning", ", held-out")}
    prepared: dict[str, list[FactRow]] = {}
    for change in CHANGES:
        sample = by_name.get(change.sample)
        if sample is None:
            continue
        if sample.name not in prepared:
            prepared[sample.name] = facts_of(sample, embedder.encode([o.text for o in sample.observations]))
        rows = prepared[sample.name]
        old, new = carrying(sample.observations, change.old), carrying(sample.observations, change.new)
        if not old or not new:
            continue
        asked = sample.last_session + timedelta(days=1)
        for state, facts in (("both current", rows), ("old closed", closed(rows, old, new))):
            index = FactIndex.build(facts)
            subject = subject_of(index, None, change.question)
            vectors = embedder.encode([change.question, subject] if subject else [change.question])
            chosen = choose(index, vectors[0], budget=budget, private=True, now=asked, expiry_days=0,
                            text=change.question, about=vectors[1] if subject else None)
            at_new, at_old = position(chosen, new), position(chosen, old)
            first = at_new is not None and (at_old is None or at_new < at_old)
            part = ", tuning" if change.sample in TUNING else ", held-out"
            for tally in (out[state], out[state + part]):
                tally.pairs += 1
                tally.new_recalled += at_new is not None
                tally.old_recalled += at_old is not None
                tally.current_first += first
            if verbose:
                print(f"{state:13} {change.sample} {change.question!r}: new at {at_new}, old at {at_old}"
                      f"{'' if first else '  <- old first'}", file=sys.stderr)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--budget", type=int, default=400)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    samples = read_samples(json.loads(args.data.read_text()))
    result = measure(samples, SentenceEmbedder(), args.budget, args.verbose)
    print(f"{'state':24} {'pairs':>5} {'current first':>14} {'new recalled':>13} {'old recalled':>13}")
    for state, tally in result.items():
        d = tally.as_dict()
        print(f"{state:24} {d['pairs']:>5} {d['current_first']:>14.3f} {d['new_recalled']:>13.3f} "
              f"{d['old_recalled']:>13.3f}")
    if args.json:
        args.json.write_text(json.dumps({k: v.as_dict() for k, v in result.items()}, indent=2))


if __name__ == "__main__":
    main()
