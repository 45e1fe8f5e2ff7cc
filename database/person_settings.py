"""A person's own settings: registered settings of the person scope (database/place_config.py), each a
preference a person sets for themselves, kept as a row of ``scoped_settings`` (scope ``person``, scope id
their user id) only once they set it. /forget_me deletes them and /export_me returns them with the rest of
their data (database/place_config.py ``person_rows``).

Not here, though they are the person's: ``users.memory_consent`` and ``users.memory_everywhere`` are read
inside the SQL that decides which memories a prompt may see (database/visibility.py, database/statements.py)
and the consent outlives /forget_me on purpose; a check-in's row (``checkins``) is the state of what was sent.
"""

from __future__ import annotations

from database.place_config import PERSON, register

# The IANA zone the person lives in (/timezone, /memory timezone; 0044 moved it from ``users.timezone``):
# a reply prompt tells their local time beside the character's, and their reminders follow it.
TIMEZONE = register("timezone", "str", scopes=(PERSON,), default="",
                    help="the time zone you live in (/timezone)").key
