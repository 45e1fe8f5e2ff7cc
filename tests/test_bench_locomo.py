"""benchmarks/bench_locomo.py on a tiny synthetic sample in LoCoMo's format: the reading (sessions, dates,
turn ids, what is unscoreable) and the scoring (hit, all, the baselines) through the real data path."""

from __future__ import annotations

import builtins
import json
import sys
from typing import Any

import pytest

from benchmarks import bench_locomo_peer
from benchmarks.bench_locomo import SPLITS, read_samples, redundancy, run, score, turn_ids
from bot.core.tokens import count_tokens
from tests.memory_support import HashEmbedder

SAMPLE: list[dict[str, Any]] = [{
    "sample_id": "tiny",
    "conversation": {
        "speaker_a": "Ana", "speaker_b": "Ben",
        "session_1_date_time": "1:56 pm on 8 May, 2023", "session_1": [],
        "session_2_date_time": "10:00 am on 20 June, 2023", "session_2": [],
    },
    "observation": {
        "session_1_observation": {
            "Ana": [["Ana adopted a greyhound called Pip.", "D1:3"],
                    ["Ana works as a nurse in Leeds.", ["D1:5", "D1:6"]]],
            "Ben": [["Ben is learning the cello.", "D1:8"]],
        },
        "session_2_observation": {
            "Ana": [["Ana ran the Leeds half marathon.", "D2:2"]],
            "Ben": [["Ben moved to Bristol for a new job.", "D2:4; D2:5"]],
        },
    },
    "qa": [
        {"question": "What is Ana's dog called?", "answer": "Pip", "evidence": ["D1:3"], "category": 4},
        {"question": "Where do Ana and Ben live?", "answer": "Leeds, Bristol",
         "evidence": ["D1:5", "D2:4"], "category": 1},
        {"question": "When did Ana run the half marathon?", "answer": "June 2023",
         "evidence": ["D:2:2", "D2:9"], "category": 2},
        {"question": "What did Ben say at dinner?", "answer": "?", "evidence": ["D2:7"], "category": 4},
        {"question": "Is Ana a pilot?", "adversarial_answer": "no", "evidence": ["D1:5"], "category": 5},
    ],
}]


def test_reading_keeps_sessions_dates_and_only_scoreable_evidence() -> None:
    assert turn_ids("D8:6; D9:17") == {"D8:6", "D9:17"} and turn_ids(["D:11:26", "D"]) == {"D11:26"}
    (sample,) = read_samples(SAMPLE)
    assert len(sample.observations) == 5
    assert sample.observations[0].said.isoformat() == "2023-05-08T13:56:00+00:00"
    assert sample.last_session.isoformat() == "2023-06-20T10:00:00+00:00"
    # Category 5 is not asked; the dinner question's evidence is carried by no observation: left out.
    assert [q.text for q in sample.questions] == ["What is Ana's dog called?", "Where do Ana and Ben live?",
                                                  "When did Ana run the half marathon?"]
    assert sample.unscoreable == 1
    assert sample.questions[2].evidence == {"D2:2"}  # D2:9 is carried by nothing: not required for "all"


def test_scoring_hit_and_all() -> None:
    evidence = frozenset({"D1:5", "D2:4"})
    assert score([frozenset({"D1:5", "D1:6"})], evidence) == (True, False)
    assert score([frozenset({"D1:5"}), frozenset({"D2:4", "D2:5"})], evidence) == (True, True)
    assert score([frozenset({"D1:3"})], evidence) == (False, False)
    assert score([], evidence) == (False, False)


async def test_the_benchmark_runs_through_the_real_data_path(db_url: str) -> None:
    samples = read_samples(SAMPLE)
    wide = await run(samples, db_url, budget=400, embedder=HashEmbedder())
    assert (wide.facts, wide.overall.n, wide.unscoreable) == (5, 3, 1)
    # Every fact fits in 400 tokens: everything is recalled, and the baselines get as many facts.
    assert wide.overall.rates() == {"hit": 1.0, "all": 1.0, "cosine": 1.0, "bm25": 1.0}
    out = wide.as_json()
    assert set(out) >= {"hit", "all", "cosine", "bm25", "n", "p50_ms"} and out["n"] == 3
    assert set(out["by_category"]) == {"multi-hop", "temporal", "single-hop"}


async def test_a_tight_budget_scores_what_was_recalled(db_url: str) -> None:
    # One date header and one line: a single fact per question.
    tight = await run(read_samples(SAMPLE), db_url, budget=22, embedder=HashEmbedder())
    assert tight.recalled == 3
    by = tight.by_category
    assert (by[4].hit, by[2].hit) == (1, 1)  # the dog's name and the marathon: the one fact is the right one
    assert by[1].all == 0  # two evidence facts never fit in one
    # The baselines get one fact too: BM25 finds the dog ("Ana", "called"), the hashed-word cosine does not.
    assert (by[4].cosine, by[4].bm25) == (0, 1)


DIALOGUE: dict[str, Any] = {
    "session_1": [
        {"speaker": "Ben", "dia_id": "D1:1", "text": "Hi Ana! Any news?"},
        {"speaker": "Ana", "dia_id": "D1:2", "text": "Hey Ben, long week at the hospital."},
        {"speaker": "Ana", "dia_id": "D1:3", "text": "I adopted a greyhound, his name is Pip!",
         "blip_caption": "a grey dog on a sofa"},
        {"speaker": "Ben", "dia_id": "D1:4", "text": "Pip is a great name for a greyhound."},
    ],
    "session_2": [
        {"speaker": "Ana", "dia_id": "D2:1", "text": "I ran the Leeds half marathon on Sunday."},
        {"speaker": "Ben", "dia_id": "D2:2", "text": "Well done! I moved to Bristol for a new job."},
    ],
}


async def test_the_turns_corpus_is_archived_by_consolidation_and_found_by_recall(db_url: str) -> None:
    sample = {**SAMPLE[0], "conversation": {**SAMPLE[0]["conversation"], **DIALOGUE}}
    (read,) = read_samples([sample])
    assert [t.turn for t in read.turns] == ["D1:1", "D1:2", "D1:3", "D1:4", "D2:1", "D2:2"]
    assert read.turns[2].text.endswith("[image: a grey dog on a sofa]") and read.speakers == ("Ana", "Ben")
    turns = await run([read], db_url, budget=400, embedder=HashEmbedder(), corpus="turns")
    # Every turn archived and indexed (Ana's, and Ben's as the character's lines beside hers); a 400-token
    # budget holds the whole dialogue (hashed words have no relevance floor), but never the last session,
    # which the DM's history holds (the recent context), nor Ben's greeting ("Hi Ana! Any news?": the
    # character's filler, telling nothing of Ana, memory/worth.py): each question quotes the three others,
    # and the dog's is answered (D1:3). The other two name turns this short dialogue does not have (D1:5,
    # D2:4) or that say something else.
    assert (turns.facts, turns.messages, turns.overall.n) == (0, 6, 3)
    assert turns.quoted == 3 * 3 and turns.by_category[4].hit == 1 and turns.by_category[1].hit == 0
    assert turns.index_seconds > 0 and turns.excerpt_bytes > 6 * 4 * HashEmbedder().encode(["x"]).shape[1]
    # A budget for a day's header and about one line: the dog's question is answered by the turn that says it.
    tight = await run([read], db_url, budget=40, embedder=HashEmbedder(), corpus="turns")
    assert tight.by_category[4].hit == 1 and tight.quoted <= 2 * 3


def test_the_peer_benchmark_says_how_to_install_the_peer_when_it_is_missing(tmp_path: Any, monkeypatch: Any,
                                                                              capsys: Any) -> None:
    data = tmp_path / "locomo.json"
    data.write_text(json.dumps(SAMPLE), encoding="utf-8")
    real_import = builtins.__import__

    def no_peer(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("engram"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_peer)
    monkeypatch.setattr(sys, "argv", ["bench_locomo_peer", "--data", str(data)])
    with pytest.raises(SystemExit) as exited:
        bench_locomo_peer.main()
    assert exited.value.code == 2
    assert "pip install engram-search==0.1.7" in capsys.readouterr().err
    monkeypatch.setattr(sys, "argv", ["bench_locomo_peer", "--data", str(tmp_path / "missing.json")])
    with pytest.raises(SystemExit) as exited:
        bench_locomo_peer.main()
    assert exited.value.code == 2 and "no such file" in capsys.readouterr().err


def test_redundancy_counts_the_recalled_tokens_the_request_already_holds() -> None:
    facts = [("- Ana adopted a greyhound called Pip.\n", frozenset({"D1:3"}))]
    said = [('- Ana: "I adopted a greyhound, his name is Pip!"\n', "D1:3"),  # the fact was drawn from it
            ('- Ana: "I ran the Leeds half marathon."\n', "D2:1"),  # the live history holds it
            ('- Ben: "Pip is a great name."\n', "D1:4"), ('- Ben: "Pip is a great name."\n', "D1:9")]
    total, repeated = redundancy(facts, said, frozenset({"D2:1"}))
    sizes = [count_tokens(t) for t, _ in facts] + [count_tokens(t) for t, _ in said]
    assert total == sum(sizes) and repeated == sizes[1] + sizes[2] + sizes[4]
    assert redundancy([], [], frozenset()) == (0, 0)
    assert set(SPLITS["tune"]).isdisjoint(SPLITS["held-out"]) and len(SPLITS["tune"]) == 3


def test_a_translation_replaces_texts_by_key_and_a_partial_one_is_left_out(tmp_path: Any) -> None:
    from pathlib import Path

    from benchmarks.locomo_languages import items, translated

    keys = [k for k, _ in items(SAMPLE[0])]
    assert keys[0] == "tiny|session_1_observation|Ana|0" and keys[-1] == "tiny|qa|3"  # category 5 not asked
    spanish = {"tiny|session_1_observation|Ana|0": "Ana adoptó un galgo llamado Pip.",
               "tiny|qa|0": "¿Cómo se llama el perro de Ana?"}
    folder = Path(tmp_path) / "es"
    folder.mkdir()
    (folder / "tiny.tsv").write_text("".join(f"{k}\t{spanish.get(k, t + ' (es)')}\n"
                                             for k, t in items(SAMPLE[0])), encoding="utf-8")
    (data, left_out) = translated(SAMPLE, folder, folder)
    (sample,) = read_samples(data)
    assert not left_out and sample.observations[0].text == "Ana adoptó un galgo llamado Pip."
    assert sample.questions[0].text == "¿Cómo se llama el perro de Ana?"
    assert sample.questions[0].evidence == {"D1:3"}  # the evidence is the original's
    # Facts in English, questions in Spanish: the cross-lingual pair.
    (data, _) = translated(SAMPLE, None, folder)
    (sample,) = read_samples(data)
    assert sample.observations[0].text == "Ana adopted a greyhound called Pip."
    assert sample.questions[0].text.startswith("¿")
    # A file that lacks a key leaves the conversation out, said, rather than scoring it half-translated.
    (folder / "tiny.tsv").write_text("tiny|qa|0\t¿Cómo se llama el perro de Ana?\n", encoding="utf-8")
    (data, left_out) = translated(SAMPLE, folder, None)
    assert data == [] and "lacks" in left_out[0]
    assert SAMPLE[0]["observation"]["session_1_observation"]["Ana"][0][0].startswith("Ana adopted")
