"""LoCoMo in other languages: its observations and questions read from translation files beside the data.

The benchmark's data may not be copied into this repository (shared/data/locomo/SOURCE.md), and a
translation is a copy in other words, so translations live outside it, as plain files that people (or a
model) write by hand from the export this module makes:

    python -m benchmarks.locomo_languages export --data locomo_dev.json --out DIR/en
    # DIR/en/conv-26.tsv ...: one line per observation and per question of categories 1-4,
    #   KEY<TAB>text, KEY = "<sample>|session_N_observation|<speaker>|<index>" or "<sample>|qa|<index>"
    # translate each file line by line into DIR/es/conv-26.tsv ..., same keys, same order

``bench_locomo --facts-in DIR/es --questions-in DIR/de`` then stores the Spanish observations and asks the
German questions: a language alone (both the same), or one of the cross-lingual pairs (facts in English,
questions in another language, as when a person switches). A conversation whose file is missing, or lacks a
key, is left out and said, so a half-translated set is never scored as whole.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

QUESTION_CATEGORIES = {1, 2, 3, 4}


def items(conv: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Each translatable text of one conversation with its key, in the file's order."""
    sample = conv.get("sample_id", "")
    for session, by_speaker in conv.get("observation", {}).items():
        for speaker, facts in by_speaker.items():
            for i, item in enumerate(facts):
                text = item[0] if item else ""
                if isinstance(text, str) and text.strip():
                    yield f"{sample}|{session}|{speaker}|{i}", _one_line(text)
    for i, qa in enumerate(conv.get("qa", [])):
        if qa.get("category") in QUESTION_CATEGORIES:
            yield f"{sample}|qa|{i}", _one_line(str(qa["question"]))


def _one_line(text: str) -> str:
    return " ".join(text.replace("\t", " ").split())


def read_tsv(path: Path) -> dict[str, str]:
    texts: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, sep, text = line.partition("\t")
        if sep and text.strip():
            texts[key] = text.strip()
    return texts


def translated(data: Sequence[dict[str, Any]], facts_in: Path | None,
               questions_in: Path | None) -> tuple[list[dict[str, Any]], list[str]]:
    """``data`` with its observations from ``facts_in`` and its questions from ``questions_in`` (None: the
    original English); and the conversations left out, each with why."""
    kept: list[dict[str, Any]] = []
    left_out: list[str] = []
    for conv in data:
        sample = str(conv.get("sample_id", ""))
        tables: dict[str, dict[str, str]] = {}
        missing = ""
        for part, folder in (("facts", facts_in), ("questions", questions_in)):
            if folder is None:
                continue
            path = folder / f"{sample}.tsv"
            if not path.is_file():
                missing = f"{sample}: no {path}"
                break
            tables[part] = read_tsv(path)
        if not missing:
            for key, _ in items(conv):
                part = "questions" if "|qa|" in key else "facts"
                if part in tables and key not in tables[part]:
                    missing = f"{sample}: {part} file lacks {key}"
                    break
        if missing:
            left_out.append(missing)
            continue
        out = copy.deepcopy(conv)
        for session, by_speaker in out.get("observation", {}).items():
            for speaker, facts in by_speaker.items():
                for i, item in enumerate(facts):
                    key = f"{sample}|{session}|{speaker}|{i}"
                    if "facts" in tables and key in tables["facts"]:
                        item[0] = tables["facts"][key]
        for i, qa in enumerate(out.get("qa", [])):
            key = f"{sample}|qa|{i}"
            if "questions" in tables and key in tables["questions"]:
                qa["question"] = tables["questions"][key]
        kept.append(out)
    return kept, left_out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    export = sub.add_parser("export", help="write the texts to translate, one TSV file per conversation")
    export.add_argument("--data", required=True, help="LoCoMo JSON (a list of conversations)")
    export.add_argument("--out", required=True, help="a folder outside the repository")
    args = parser.parse_args()
    data = json.loads(Path(args.data).read_text(encoding="utf-8"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for conv in data:
        rows = list(items(conv))
        (out / f"{conv.get('sample_id', '')}.tsv").write_text(
            "".join(f"{k}\t{t}\n" for k, t in rows), encoding="utf-8")
        print(f"{conv.get('sample_id', '')}: {len(rows)} texts", file=sys.stderr)


if __name__ == "__main__":
    main()
