"""Which embedding model a stored vector came from: vectors of another model than the running one are read
as none, whatever their dimension (the same dimension is no proof of the same space)."""

from __future__ import annotations

# The model a stored vector came from when its row names none: the one shipped before vectors were tagged
# (0035_embedding_model).
DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"


def usable(vector: bytes | None, model: str | None, current: str) -> bytes | None:
    """A stored vector if the running model (``current``) made it, else None: a vector of another model is
    never compared with this one's (it waits to be re-embedded, memory/reembed.py)."""
    if vector is None or (model or DEFAULT_EMBEDDING_MODEL) != current:
        return None
    return vector
