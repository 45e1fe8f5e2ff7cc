"""A poll's counts and results in words, within the room Discord gives them: the options listed with their
counts (the panel's, cogs/polls.py), and the message posted with the results' chart at close.

Each is built to fit by design, whatever the poll holds and in every language: a list keeps whole entries
while they fit and says how many it left out (:func:`entries_within`); the results name the character, the
question and a single winner cut to their input limits, and a tie names as many of its options as fit and
counts the rest (:func:`results_text`), so the numbered list under them (where the chart numbers its bars)
always keeps the room to say what it left out (:func:`results_message`). Discord's limits are the caller's to
give (``room``, ``limit``): this package knows no Discord.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.i18n import listed, t, tn
from bot.core.text import clip
from bot.features.polls.charts import labels_drawn
from bot.features.polls.lifecycle import OPTION_MAX_CHARS, QUESTION_MAX_CHARS, result_lines
from bot.features.polls.rows import PollRecord

NAME_MAX_CHARS = 80  # the character's name as the results say it (a webhook's name, the longest, is 80)


def _within(text: str, most: int) -> str:
    """``text`` as it is while it is at most ``most`` characters, else cut (a poll past the input rules)."""
    return text if len(text) <= most else clip(text, most)


def _left_out(hidden: int, language: str) -> str:
    return "-# " + tn(language, "… and {count} more option, too long to show here.",
                      "… and {count} more options, too long to show here.", hidden)


def least_room(count: int, language: str) -> int:
    """The room :func:`entries_within` needs for ``count`` entries to keep its promise: its widest note of
    those left out (the forms of a count differ in length: "opcja", "opcje", "opcji")."""
    return max((len(_left_out(hidden, language)) for hidden in range(1, count + 1)), default=0)


def entries_within(entries: Sequence[str], room: int, language: str) -> str:
    """``entries`` one a line, whole ones while they fit in ``room`` characters; how many were left out is
    said, so the list never passes for complete. Within ``room`` when it is at least :func:`least_room`."""
    text = "\n".join(entries)
    if len(text) <= room:
        return text
    room -= least_room(len(entries), language) + 1  # the widest note, so whatever is kept leaves room for it
    kept: list[str] = []
    for entry in entries:
        if sum(len(e) + 1 for e in kept) + len(entry) > room:
            break
        kept.append(entry)
    return "\n".join([*kept, _left_out(len(entries) - len(kept), language)])


def options_listing(options: Sequence[str], counts: Sequence[int], room: int, language: str = "en") -> str:
    """Each option with its bar and count, whole entries while they fit in ``room`` characters."""
    return entries_within(result_lines(options, counts, language), room, language)


def winners(options: Sequence[str], counts: Sequence[int]) -> list[int]:
    """The options with the most votes, by their index (none when nobody voted)."""
    top = max(counts, default=0)
    return [i for i, count in enumerate(counts) if top and count == top]


def _tie(best: Sequence[str], named: int, language: str) -> str:
    """A tie between ``best``, the first ``named`` of them by name and the rest counted."""
    names = [f"**{option}**" for option in best[:named]]
    if named < len(best):
        # the last item of the tie's list: "A tie between **A**, **B** and 3 more options"
        names.append(tn(language, "{count} more option", "{count} more options", len(best) - named))
    # the names as the language lists them ("A, B und C", "A、B、C")
    return t(language, "A tie between {names}", names=listed(language, names))


def results_text(character: str, question: str, options: Sequence[str], counts: Sequence[int],
                 language: str = "en", room: int | None = None, *, numbered: bool = False) -> str:
    """The message posted at close, in the character's voice, at most ``room`` characters (None: no limit).
    A tie too long to name whole is said by the options' numbers where they are ``numbered`` beneath it (all
    of them, in a few characters each), else names as many as fit and counts the rest; one named always fits
    a room of a few hundred characters, as the name, the question and an option are cut to their limits."""
    total = sum(counts)
    name, question = _within(character, NAME_MAX_CHARS), _within(question, QUESTION_MAX_CHARS)
    if not total:
        return t(language, "*{name} looks at the empty ballot box.* Nobody voted on **{question}**.",
                 name=name, question=question)

    def said(result: str) -> str:
        return tn(language, "*{name} counts the votes.* The poll **{question}** has closed: {result} "
                            "({count} vote).",
                  "*{name} counts the votes.* The poll **{question}** has closed: {result} ({count} votes).",
                  total, name=name, question=question, result=result)

    tied = winners(options, counts)
    best = [_within(options[i], OPTION_MAX_CHARS) for i in tied]
    if len(best) == 1:
        return said(t(language, "**{option}** wins", option=best[0]))
    text = said(_tie(best, len(best), language))
    if room is None or len(text) <= room:
        return text
    if numbered:
        text = said(t(language, "A tie between options {numbers}",
                      numbers=listed(language, [str(i + 1) for i in tied])))
        if len(text) <= room:
            return text
    for named in range(len(best) - 1, 1, -1):  # the most that fit
        text = said(_tie(best, named, language))
        if len(text) <= room:
            return text
    return said(_tie(best, 1, language))


def results_message(character: str, poll: PollRecord, counts: Sequence[int], language: str = "en", *,
                    limit: int) -> str:
    """The words posted with the results' chart, at most ``limit`` characters (Discord's message's); where the
    chart labels its bars by number alone (its font cannot draw the options: charts.labels_drawn), the
    options under them with those numbers, in the poll's words, so a reader matches each bar to its option
    without the poll's panel, which may be far above. The result comes first: the list gets the room it
    leaves, at least enough to say how many options it could not show; a tie that would crowd it out is said
    by the numbers it lists."""
    if labels_drawn(poll.options):
        return results_text(character, poll.question, poll.options, counts, language, limit)
    key = [f"**{i + 1}.** {option}" for i, option in enumerate(poll.options)]
    listing = "\n".join(key)
    text = results_text(character, poll.question, poll.options, counts, language,
                        limit - 2 - len(listing), numbered=True)
    if len(text) + 2 + len(listing) > limit:  # the list cut: the result as long as it may be beside it
        text = results_text(character, poll.question, poll.options, counts, language,
                            limit - 2 - least_room(len(key), language), numbered=True)
    return f"{text}\n\n{entries_within(key, limit - len(text) - 2, language)}"
