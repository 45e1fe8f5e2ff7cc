"""The model's input checked against an MCP tool's input schema in a child process (run as a file, so it
imports jsonschema and nothing of the bot): a server's regular expressions are a third party's, and
``^(a+)+$`` takes Python's ``re`` minutes on a 30-character input, holding the interpreter all along, while
another engine's compiler can be made to take gigabytes (``(a{65535}){65535}``). Here it may: the child
holds no event loop and no one else's reply, its memory is capped, and it is killed at the deadline.
A schema without a regular expression is checked in the bot itself (:func:`input_problem`): nothing in it
can take long.

Reads ``{"schema": ..., "arguments": ...}`` as JSON on its standard input and writes ``{"problem": text or
null}``."""

import json
import sys
from typing import Any

MEMORY_BYTES = 1 << 29  # 512 MiB of address space: far more than a check needs, far less than the host has


def input_problem(schema: dict[str, Any], arguments: object) -> str | None:
    """What is wrong with ``arguments`` under ``schema`` (None: they fit). (Run here on a schema without a
    regular expression, in the bot itself too.)"""
    from jsonschema import exceptions, validators  # noqa: PLC0415  (after the limits are set)

    error = exceptions.best_match(validators.validator_for(schema)(schema).iter_errors(arguments))
    return None if error is None else f"the input does not fit the tool: {error.message[:200]}"


def main() -> None:
    try:
        import resource  # noqa: PLC0415  (not on Windows, where the deadline alone bounds the check)

        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    except (ImportError, ValueError, OSError):
        pass
    given = json.load(sys.stdin)
    try:
        said = input_problem(given["schema"], given["arguments"])
    except (MemoryError, RecursionError):
        said = "the input could not be checked against the tool's schema"
    json.dump({"problem": said}, sys.stdout)


if __name__ == "__main__":
    main()
