"""How the built-in responder reads a conversation rather than one message: small talk, and follow-ups.

- ``small_talk(text)`` — greetings, thanks, "that worked", goodbyes, a "no thanks" and pleasantries ("how are
  you?", "tell me a joke"): nothing to look up, so the reply carries no confidence and no escalation signal.
  A message that says anything more ("thanks, but how do I …") is not small talk.
- ``search_query(message, earlier)`` — what to search for: the message without its small talk ("no that's
  ok. how do I rename a topic?" searches "how do I rename a topic?"), and, for a follow-up ("and on
  mobile?", "what about annual plans?", "how do I turn that off?"), with the question it follows (the
  latest earlier user message that stood on its own, so "and on desktop?" after "and on mobile?" still
  carries the first question).

Pure: imports nothing of Django or of the project, no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from enum import StrEnum


class SmallTalk(StrEnum):
    GREETING = "greeting"
    THANKS = "thanks"  # includes "that worked", "got it"
    GOODBYE = "goodbye"
    DECLINE = "decline"  # "no thanks", "I'm good": e.g. to the offer of a teammate
    ACKNOWLEDGE = "acknowledge"  # "yes", "sure", "alright" with nothing to look up
    CHITCHAT = "chitchat"  # "how are you?", "what's your name?", "tell me a joke", "lol"


def _normalised(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(char for char in folded if not unicodedata.combining(char))
    plain = plain.replace("\u2019", "'").replace("\u2018", "'")
    plain = re.sub(r"[^\w\s']", " ", plain)
    return " ".join(plain.split())


def _unapostrophed(text: str) -> str:
    """Small talk is compared without apostrophes: people type "thats" as often as "that's"."""
    return _normalised(text).replace("'", "")


def _alternatives(kind: SmallTalk, phrases: str) -> list[tuple[str, SmallTalk]]:
    return [(_unapostrophed(phrase), kind) for phrase in phrases.split("|")]


# Longest first, so "thank you so much" is read before "thank you".
_PHRASES = sorted(
    _alternatives(
        SmallTalk.GREETING,
        "hi|hello|hey|hiya|howdy|yo|good morning|good afternoon|good evening|hi there|hello there|hey there"
        "|hola|bonjour|salut|hallo|ola|ciao",
    )
    + _alternatives(
        SmallTalk.THANKS,
        "thanks|thank you|thx|ty|tysm|cheers|much appreciated|appreciate it|thanks a lot|thank you so much"
        "|thanks so much|many thanks|great|perfect|awesome|nice|cool|ok|okay|k|got it|gotcha|understood"
        "|makes sense|i see|all good|sounds good|that worked|it worked|that works|it works|works now|they work now"
        "|it works now|that did it|that helped|that helps|fixed|solved|done|all set|good|great thanks"
        "|that's what i needed|that's exactly what i needed|that's it|for the help|for your help|for explaining"
        "|for the help earlier|good to know|noted|will do|fair enough|no worries|that answers it"
        "|that answers my question|i'll try that|i'll give it a try|gracias|merci|danke|obrigado|obrigada|grazie"
        "|that fixed it|fixed it|that sorted it|that sorted it out|sorted it out|sorted|works again|working again"
        "|helpful|very helpful|really helpful|super helpful|that's helpful|that's very helpful|that was helpful"
        "|lovely|brilliant|excellent|wonderful"
        "|muchas gracias|merci beaucoup|danke schon|vielen dank|muito obrigado|muito obrigada|valeu|perfecto|genial"
        "|parfait|super|prima|perfeito",
    )
    + _alternatives(
        SmallTalk.GOODBYE,
        "bye|goodbye|bye bye|see you|see ya|later|have a nice day|have a good day|take care|adios|au revoir"
        "|have a good one|have a great day|have a nice one|have a good weekend|have a great weekend|ciao"
        "|tschuss|tchau",
    )
    + _alternatives(
        SmallTalk.DECLINE,
        "no|no thanks|no thank you|nope|nah|not now|not right now|maybe later|i'm good|i'm fine|that's ok"
        "|that's okay|that's fine|it's ok|it's fine|never mind|nevermind|no need|non merci|nein danke|no gracias",
    )
    + _alternatives(
        SmallTalk.ACKNOWLEDGE, "yes|yeah|yep|yup|sure|alright|right|si|oui|ja|sim|vale|claro|d'accord|entendido"
    )
    + _alternatives(
        SmallTalk.CHITCHAT,
        "how are you|how are you doing|how's it going|what's up|sup|what's your name|who are you"
        "|how's your day|how's your day going|how is your day going|how's your day been|how are things"
        "|nice to meet you|tell me a joke|you're funny|lol|haha|hahaha|lmao|wow|oh|ah|hmm|um|ha",
    ),
    key=lambda entry: -len(entry[0]),
)
_PHRASE_PATTERN = re.compile(r"\b(?:" + "|".join(re.escape(phrase) for phrase, _kind in _PHRASES) + r")\b")
_KIND = dict(_PHRASES)
# Words that may stand around small talk without making it a question: "ok so much thanks", "oh well".
_FILLER = frozenset(
    re.findall(r"\w+", "so very really much a lot all now again well you and then just also yes yeah that anyway")
)


def small_talk(text: str) -> SmallTalk | None:
    """The kind of small talk ``text`` is, or None when it says (or asks) anything more. Two closings also
    count, in a message that asks nothing: one that ends with a goodbye, whatever comes before it ("cool,
    that'll save me a lot of grief. bye"), and thanks followed by words that close the matter ("Thanks,
    closing the ticket on our side."): the customer is leaving."""
    kind = _small_talk(text)
    if kind is not None or "?" in text:
        return kind
    last = _LAST_SENTENCE.search(text)
    if last is not None and last.group(1) != text and _small_talk(last.group(1)) == SmallTalk.GOODBYE:
        return SmallTalk.GOODBYE
    first = _FIRST_SENTENCE.match(text)
    if first is not None and _small_talk(first.group(1)) == SmallTalk.THANKS:
        rest = _unapostrophed(first.group(2))
        if _CLOSING.search(rest) and not _ASKING.search(rest):
            return SmallTalk.THANKS
    return None


_LAST_SENTENCE = re.compile(r"([^.!,;\n]+)[.!,;\s]*$")
_FIRST_SENTENCE = re.compile(r"\s*([^.!,;\n]+)[.!,;\n]+(.*)", re.S)
# Words that close the matter, and words that would open another one (compared without apostrophes).
_CLOSING = re.compile(
    r"\b(?:clos(?:e|ed|ing)|done|all set|sorted|resolved|thats all|that is all|nothing else|were good|im good"
    r"|all good|no more questions)\b"
)
_ASKING = re.compile(r"\b(?:how|what|where|why|when|which|can|could|need|want|help|but|still|not|cant|doesnt)\b")


def _small_talk(text: str) -> SmallTalk | None:
    normalised = _unapostrophed(text)
    if not normalised:
        return None
    kinds: list[SmallTalk] = []

    def remember(match: re.Match[str]) -> str:
        kinds.append(_KIND[match.group(0)])
        return " "

    rest = _PHRASE_PATTERN.sub(remember, normalised).split()
    if not kinds or any(word not in _FILLER for word in rest):
        return None
    # "thanks, bye" is a goodbye; "no thanks" a decline; "hi, how are you" chit-chat; else the first kind said.
    for kind in (SmallTalk.GOODBYE, SmallTalk.DECLINE, SmallTalk.CHITCHAT, SmallTalk.THANKS, SmallTalk.ACKNOWLEDGE):
        if kind in kinds and (kind != SmallTalk.THANKS or SmallTalk.GREETING not in kinds):
            return kind
    return kinds[0]


# --- Follow-ups ---------------------------------------------------------------------------------------

_OPENERS = re.compile(
    r"^(?:and|also|plus|or|but|what about|how about|same for|same on|same with|and what about|and how about"
    r"|what if|ok and|okay and|and for|and on|and in|and with|then)\b"
)
# Pronouns standing for the earlier subject ("turn it off", "what does that mean"), not determiners ("this month").
_BACK_REFERENCE = re.compile(
    r"\b(?:it|them|too|as well|either|instead)\b"
    r"|\b(?:that|this|those)(?= (?:off|on|out|up|back|again|work|works|happen|happens|mean|means|one|ones)\b|$)"
)
_MAX_FOLLOW_UP_WORDS = 12


def is_follow_up(text: str) -> bool:
    """A short message that leans on the question before it ("and on mobile?", "how do I turn that off?")."""
    normalised = _normalised(text)
    words = normalised.split()
    if not words or len(words) > _MAX_FOLLOW_UP_WORDS:
        return False
    return bool(_OPENERS.search(normalised) or _BACK_REFERENCE.search(normalised))


_CLAUSE = re.compile(r"[.!?;,\n]+")


def substance(text: str) -> str:
    """``text`` without its small-talk clauses ("no that's ok. how do I rename a topic?" → "how do I rename a
    topic?"); all of it when every clause is small talk."""
    clauses = [clause.strip() for clause in _CLAUSE.split(text) if clause.strip()]
    kept = [clause for clause in clauses if small_talk(clause) is None]
    return " ".join(kept) if kept and len(kept) < len(clauses) else text


def search_query(message: str, earlier: Sequence[str]) -> str:
    """What to search the help center for: ``message`` without its small talk, with the question it follows
    when it is a follow-up.

    ``earlier`` are the user's previous messages in the conversation, oldest first. The question a follow-up
    follows is the latest one that stood on its own (a first question stands on its own whatever it says).
    """
    base: str | None = None
    for previous in earlier:
        if small_talk(previous) is None and (base is None or not is_follow_up(substance(previous))):
            base = substance(previous)
    query = substance(message)
    if base is None or not is_follow_up(query):
        return query
    return f"{base} {query}"
