"""The value checks that settings name with ``check=`` (sections.py): each returns what is wrong with a value,
or None when it is fine."""

import ipaddress

from bot.core.models.base import parse_model_costs
from bot.core.models.capabilities import parse_model_capabilities


def user_ids(value: str) -> str | None:
    for part in value.replace(" ", "").split(","):
        if part and not part.isdigit():
            return f"expected comma-separated user ids, got {part!r}"
    return None


def model_costs(value: str) -> str | None:
    try:
        parse_model_costs(value)
    except ValueError as exc:
        return str(exc)
    return None


def model_capabilities(value: str) -> str | None:
    try:
        parse_model_capabilities(value)
    except ValueError as exc:
        return str(exc)
    return None


def database_url(value: str) -> str | None:
    return f"not a database URL: {value!r}" if value and "://" not in value else None


def host(value: str) -> str | None:
    return None if value.strip() else "must not be empty (127.0.0.1 by default)"


def proxy(value: str) -> str | None:
    """Empty, or one IP address (a name could resolve to anything; the proxy is a fixed address)."""
    if not value.strip():
        return None
    try:
        ipaddress.ip_address(value.strip())
    except ValueError:
        return f"must be the proxy's IP address (e.g. 127.0.0.1), got {value.strip()!r}"
    return None


def image_bytes(value: int) -> str | None:
    return f"at most 3932160 (5 MB of base64, Claude's limit per image), got {value}" \
        if value > 3_932_160 else None
