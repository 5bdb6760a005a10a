"""Problems only a human can solve: ``human_only_topic(text, topics, earlier=…) -> TopicMatch | None``.

The agent's ``human_only_topics`` setting is a list the admin edits. An entry that names one of the built-in
**categories** is recognised by that category's patterns, in any phrasing; any other entry is a phrase,
found as whole words (case, accents and spacing ignored). The built-in responder calls the ``escalate``
tool when a message matches, so the conversation goes to a human at once.

Categories (their names are the entries that switch them on, and the new agent's defaults):

- ``account security`` — the account is in someone else's hands: hacked, hijacked, compromised, someone
  else logged in or changed the password or email, messages the user did not send, unauthorised or
  suspicious logins, a former employee who still has access. Questions on protecting an account ("how do
  I keep my account from being hacked?") are not.
- ``billing dispute`` — money the customer disputes: charged twice, charged after cancelling, billed for
  more than they have, a wrong invoice amount, a charge they do not recognise, a chargeback, a refund they
  ask for. Questions about prices, invoices or the refund policy are not.
- ``legal or privacy request`` — lawyers, subpoenas, court orders, copyright takedowns, and requests to
  erase or hand over personal data (GDPR, CCPA, "delete all my data", "a copy of the personal data you
  have on me"), and asking us to close an account ("please delete my account", "can you cancel our
  account?"). "Are you GDPR compliant?" and "how do I delete my account?" are questions the help center
  answers.
- ``outage or bug that persists`` — the product fails and it persists: the failure is still there after
  the user tried something ("I reinstalled it and it's still blank"), for a long time ("since this
  morning") or for everyone ("our whole org can't load it"). A persistence word may come after a failure
  told in one of the user's earlier messages. A first report of a failure is not: the help center may
  know the fix.

Pure: imports nothing of Django or of the project, no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum


class Category(StrEnum):
    ACCOUNT_SECURITY = "account security"
    BILLING_DISPUTE = "billing dispute"
    LEGAL_OR_PRIVACY = "legal or privacy request"
    PERSISTENT_PROBLEM = "outage or bug that persists"


DEFAULT_HUMAN_ONLY_TOPICS: tuple[str, ...] = tuple(category.value for category in Category)
# How many of the user's earlier messages a persisting failure may have been told in.
EARLIER_READ = 3


@dataclass(frozen=True, slots=True)
class TopicMatch:
    """The admin's entry that matched (a category name or a phrase) and the words that matched it."""

    topic: str
    words: str


def _normalised(text: str) -> str:
    """Case folded, accents dropped, apostrophes straightened, runs of whitespace made one space."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(char for char in folded if not unicodedata.combining(char))
    plain = plain.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")
    return " ".join(plain.split())


def _company_named(text: str, company: str) -> str:
    """``text`` (normalised) with the company's own name (normalised) read as "your company": the patterns
    know the company as the customer addresses it ("does Acme offer refunds?", "sue Acme")."""
    return re.sub(rf"\b{re.escape(company)}\b", "your company", text) if company else text


def _any(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{pattern})" for pattern in patterns))


_NOT = r"(?:not|n't|n'?t|never)"
_MY = r"(?:my|our|the|this)"

# --- account security ---------------------------------------------------------------------------------

_SECURITY = _any(
    r"\b(?:hacked|hacker|hackers|hijack\w*|compromised|pwned|taken over|takeover|breached)\b",
    r"\b(?:been|got|get|was|were|is|has been) hack(?:ed)?\b",
    r"\b(?:someone|somebody)(?: else)? (?:has |had |got |gained |is )?(?:access(?:ed)?|logged|log(?:ged)? ?in"
    r"|signed ?in|using|used|changed|reset|took|stole|is posting|posted|sent)\b.{0,30}\b(?:my|our)\b",
    r"\b(?:someone|somebody)(?: else)? (?:has|had|got|have) (?:access|my password|our password|into my|into our)\b",
    r"\b(?:unauthori[sz]ed|suspicious|unknown|unrecogni[sz]ed|strange) (?:log ?-?ins?|sign ?-?ins?|access|activity"
    r"|devices?|sessions?)\b",
    r"\blog ?-?in from (?:a|an) (?:device|location|country|computer|phone)s? (?:i|we) (?:do|did)(?:n'?t| not)\b",
    r"\b(?:wasn'?t|was not|not) me\b",
    r"\b(?:sending|sent|posting|posted|writing|logged in|acting) (?:messages? )?as me\b",
    r"\b(?:pretending to be|impersonat\w*) (?:me|us)\b",
    # A recovery detail changed behind the user's back: "the recovery email was changed and it's not mine".
    r"\b(?:was|were|has been|have been|got) (?:changed|reset|switched|swapped|replaced|updated|altered|modified)\b"
    r".{0,60}\b(?:not mine|not me|wasn'?t me|(?:i|we)(?:'ve| have)? (?:\w+ )?(?:did(?:n'?t| not)|never)"
    r"|(?:i|we) (?:do|did)(?:n'?t| not) recogni[sz]e)\b",
    # Someone who should have lost access kept it: "my former employee still has admin access".
    r"\b(?:former|ex|old|fired|terminated) (?:employee|colleague|coworker|co-worker|admin|administrator|member|staff)"
    r"\b.{0,40}\b(?:still|kept|keeps)\b.{0,20}\baccess\b",
    r"\b(?:messages?|posts?|dms?|direct messages?)\b.{0,40}\b(?:i|we) (?:did|do)(?:n'?t| not) (?:send|write|post)\b",
    r"\b(?:messages?|posts?|dms?|direct messages?)\b.{0,60}\b(?:i|we) never (?:sent|wrote|posted)\b",
    # Told first, denied after: "messages went out from my account at 2am … I was asleep. I did not write those".
    # Changes nobody on the user's side made: "… listed as the only owner. Nobody here did any of this."
    r"\b(?:nobody|no one) (?:here |on our (?:side|end|team) |of us |in our (?:team|org|company) )?did (?:this|that"
    r"|it|any of (?:this|that|it))\b",
    r"\b(?:messages?|posts?|dms?|direct messages?)\b.{0,30}\bfrom my account\b.{0,160}"
    r"\b(?:i|we) (?:did(?:n'?t| not)|never) (?:send|sent|write|wrote|post|posted)\b",
    r"\b(?:i|we) (?:did|do)(?:n'?t| not) (?:send|write|post)\b.{0,40}\bfrom my account\b",
    r"\b(?:hackeado|hackeada|hackearon|pirate|piratee|gehackt|invadida|invadiram|hackerato)\b",
)
_SECURITY_HYPOTHETICAL = _any(
    r"\b(?:protect|prevent|secure|avoid|safe from)\b",
    r"\b(?:what (?:if|happens if|should i do if|do i do if)|in case|if (?:i|we|my|our|someone|somebody))\b",
    r"\bcan (?:someone|somebody|anyone|anybody|people|others)\b",
    r"^\W*(?:can|could|may) (?:i|we)\b",  # "can I remove a message someone else posted in my channel?"
)

# --- billing dispute ----------------------------------------------------------------------------------

_BILLING = _any(
    r"\b(?:charged|billed|charging|debited|invoiced)\b(?: (?:me|us|my card|our card|my account|our account))?"
    r" (?:twice|double|two times|2 times|again|wrong(?:ly)?|incorrectly|too much|more than|after|even though"
    r"|despite|without|for (?:a|an) (?:plan|seat|seats|subscription) (?:i|we) (?:did|do)(?:n'?t| not))\b",
    r"\b(?:still|keep|keeps|kept) (?:being )?(?:charg|bill)\w*",
    r"\b(?:double|duplicate|extra|wrong|incorrect|unauthori[sz]ed|unexpected|fraudulent|unrecogni[sz]ed|unknown"
    r"|mystery) (?:charges?|payments?|transactions?|debits?)\b",
    r"\bover-?charged\b|\bdouble[- ](?:charged|billed)\b|\bcharged? (?:i|we) (?:don'?t|do not) recogni[sz]e\b",
    r"\bcharge ?backs?\b",
    r"\bwhy (?:did|have|has|was|were|am|are|is) (?:you|i|we)\b.{0,20}"
    r"\b(?:charg|bill|invoic|debit|take|took|taking)\w*",
    r"\b(?:took|taken|take|taking|deducted|withdrew|withdrawn)\b.{0,25}"
    r"\bfrom (?:my|our) (?:card|credit card|account|bank)",
    r"\bnever (?:signed up|subscribed|agreed|authori[sz]ed|ordered|upgraded)\b.{0,30}\b(?:paid|plan|subscription|charge"
    r"|upgrade)",
    # Paid and did not get it: "we paid for the annual plan but the account still shows as free".
    r"\b(?:(?:i|we) (?:paid|payed|purchased|bought|upgraded)|payment went through)\b.{0,40}\bbut\b.{0,40}"
    r"\b(?:still|shows?|says?|not|no|hasn'?t|didn'?t|isn'?t)\b",
    r"\b(?:cancell?ed|terminated|downgraded)\b.{0,60}\b(?:but|and|yet|still)\b.{0,20}\b(?:charged|billed|charging"
    r"|billing|invoiced)\b",
    r"\b(?:invoices?|bills?|charges?|amount)\b (?:is|was|are|were|looks|seems) (?:wrong|incorrect|too high|off"
    r"|not right)\b|\bwrong amount\b",
    r"\b(?:charges?|payments?|transactions?|debits?)\b.{0,40}\b(?:don'?t|do not|didn'?t|did not|never) (?:recogni[sz]e"
    r"|authori[sz]e|approve|agree to)\b",
    r"\bdisput\w* (?:the |a |this |that |my |our )?(?:charges?|payments?|invoices?|transactions?|bills?)\b",
    r"\b(?:want|need|get|getting|request|requesting|demand|like|expect|give me|give us|issue|process|send)"
    r" (?:a |my |our |the |an? (?:full|partial) )?(?:full |partial )?refund\b",
    r"\brefund (?:me|us|my|our|the|this|that|it)\b",
    r"\b(?:want|need|expect|like|get|be|been|getting)\b.{0,25}\brefunded\b",
    # Billed for more than they have or used: "billed us for 40 seats but we only have 25 users".
    r"\b(?:charged|billed|invoiced)\b.{0,40}\bbut (?:i|we) (?:only|never|did(?:n'?t| not)|do(?:n'?t| not)|had|have)\b",
    r"\b(?:my|our) money back\b",
    r"\b(?:cobrado|cobrada|cobraron|cobro) (?:dos veces|doble|duplicado|duas vezes)\b|\bdebite deux fois\b"
    r"|\bdoppelt (?:abgebucht|berechnet)\b|\b(?:quiero|necesito) (?:un |el )?reembolso\b"
    r"|\bje (?:veux|voudrais) (?:un |etre )?rembours\w*\b",
)
_BILLING_QUESTION = _any(
    r"\brefund policy\b",
    r"\b(?:do|does) (?:you|your company|it) (?:offer|give|provide|do) refunds\b",
    r"\bhow do refunds work\b",
    r"\b(?:will|would) (?:i|we) (?:still )?be (?:charged|billed|invoiced)\b",
    r"\b(?:are|is) (?:\w+ )?(?:plans?|subscriptions?) refundable\b",
)

# --- legal or privacy request -------------------------------------------------------------------------

_LEGAL = _any(
    r"\b(?:lawyers?|attorneys?|solicitors?|legal counsel|lawsuits?|litigation|subpoena\w*|court order|warrant"
    r"|law enforcement|cease and desist|dmca|takedown notice|copyright infringement|legal action"
    r"|legal department|legal team)\b",
    r"\b(?:sue|suing)\b (?:you|your company|them)\b",
    r"\b(?:gdpr|ccpa|dsar|data subject|data protection)\b.{0,60}\b(?:request|requesting|erase|erasure|delete"
    r"|deletion|access|copy|right|demand|article)\b",
    r"\bright (?:to be forgotten|to erasure|of access|to access)\b",
    r"\b(?:delete|erase|remove|wipe|purge|destroy)\b(?: all)?(?: of)? (?:my|our|the) personal (?:data|information"
    r"|info|details)\b",
    r"\b(?:delete|erase|remove|wipe|purge|destroy)\b (?:all )?(?:of )?(?:my|our) (?:data|information|info|records)"
    r"\b",
    r"\b(?:delete|erase|remove|wipe)\b.{0,30}\b(?:data|information)\b.{0,20}\b(?:about me|about us|you (?:hold|have"
    r"|store|keep))\b",
    r"\b(?:abogado|avocat|anwalt|advogado|avvocato)\b|\b(?:borrar|eliminar) (?:todos )?mis datos\b",
    r"\bsupprimer (?:toutes )?mes donnees\b|\bmeine daten (?:loschen|entfernen)\b",
    r"\bapagar (?:todos )?(?:os )?meus dados\b",
)
_ACCOUNT_DELETION = re.compile(
    r"\b(?:delete|close|cancel|erase|remove|terminate)\b (?:my|our) "
    r"(?:account|organization|organisation|org|workspace)\b"
)
# A contract to be signed by us: "she needs the DPA signed by someone at your company" (not "where can I
# download your DPA to sign it?", which the help center answers).
_CONTRACT = _any(
    r"\b(?:dpa|data processing (?:agreement|addendum)|baa|business associate agreement|nda|security questionnaire)"
    r"\b.{0,80}\b(?:signed|sign|countersign\w*|signature)\b",
    r"\b(?:sign|countersign)\b.{0,40}\b(?:dpa|data processing (?:agreement|addendum)|baa|nda|security questionnaire)\b",
)
# What is tied to the user, to be gone from our side: "I want everything tied to me wiped from your servers".
_ERASURE = _any(
    r"\b(?:delete|deleted|erase|erased|remove|removed|wipe|wiped|purge|purged|scrub|scrubbed)\b.{0,40}"
    r"\b(?:from|off) (?:your|(?:your|the) company'?s) (?:servers?|systems?|databases?|records|platform)\b",
    # Told the other way round: "what personal data about me is still stored, and then have all of it erased".
    r"\bpersonal (?:data|information|info|details)\b.{0,80}\b(?:erased|deleted|wiped|purged|removed)\b",
)
# The personal data we hold, asked for: "I need a copy of all the personal data you have on me".
_DATA_ACCESS = re.compile(
    r"\b(?:copy|export|all)\b.{0,30}\bpersonal (?:data|information|info)\b.{0,20}\byou (?:have|hold|store"
    r"|keep|collect)"
)
_ASKED_OF_US = _any(
    r"\b(?:please|pls|plz|kindly)\b",
    r"\b(?:i|we)(?: want| need| demand| request| would like|'d like) (?:you to |your company to )?",
    r"\b(?:can|could|would|will) you\b",
    r"\bi'?m requesting\b",
)
_HOW_TO = re.compile(r"\b(?:how (?:do|can|to|should|would)|where (?:do|can|is)|is there a way)\b")

# --- outage or bug that persists ----------------------------------------------------------------------

_ACTIONS = (
    r"(?:work|load|open|send|sync|connect|start|launch|log ?in|sign ?in|upload|download|receive|show|display"
    r"|deliver|arrive|come(?: through)?|update|refresh|play|save|render|appear|install|import|export|print)"
)
_FAILURE = _any(
    rf"\b{_NOT}\s?(?:be )?{_ACTIONS}(?:ing|s|ed)?\b",
    rf"\b(?:won'?t|wont|doesn'?t|don'?t|isn'?t|aren'?t|can'?t|cannot|can not|unable to|fails? to|failed to"
    rf"|stopped) {_ACTIONS}(?:ing)?\b",
    rf"\b(?:won'?t|wont|doesn'?t|don'?t|can'?t|cannot) let (?:me|us) {_ACTIONS}\b",
    r"\b(?:broken|crash\w*|freez\w*|frozen|hangs?|stuck|blank|error|errors|500|502|503|504|down|outage|bug|buggy"
    r"|glitch\w*|not responding|unresponsive|times? out|timing out|fails|failing|failed)\b",
    r"\b(?:nobody|no one|none of us)\b.{0,40}\b(?:can|could|is able to|are able to) \w+",
    r"\bnothing (?:works|worked|helps|helped|loads|happens|arrives|arrived|comes|shows|changes|changed)\b",
    r"\b(?:is|are|shows?|showing|looks?) (?:wrong|incorrect)\b",
    r"\b(?:disappear\w*|vanish\w*|losing|(?:super|very|really|so|too) slow|slow(?:ly)? (?:to|today|now)|takes? forever"
    r"|keeps? (?:crashing|freezing|disappearing|failing|logging me out))\b",
    r"\b(?:no funciona|ne (?:fonctionne|marche) (?:pas|plus)|funktioniert nicht|nao funciona|non funziona)\b",
    r"\b(?:no (?:puedo|podemos|me deja|carga|llega|llegan|(?:me |nos )?(?:devuelve|muestra|aparece|aparecen|sale"
    r"|salen|encuentra))|nao (?:consigo|conseguimos|carrega|chega|chegam|(?:me )?(?:mostra|aparece|aparecem|acha))"
    r"|ne (?:s'?)?(?:affiche\w*|charge\w*|ouvre\w*|arrive\w*|part\w*|envoie\w*) (?:pas|plus)"
    r"|je n'?(?:arrive|arrivons) pas|(?:geht|klappt|ladt|lauft) (?:nicht|nichts)|non (?:riesco|carica|arriva))\b",
    r"\b(?:error|errores|erro|erreur|fehler|errore|se cuelga|trava|travou|plante|absturz|sturzt ab)\b",
    r"\bnever (?:went out|went through|got sent|got delivered|arrived|showed up|came through|loaded|sent)\b"
    r"|\b(?:just )?(?:sits|sitting) there\b",
    r"\b(?:desaparec\w*|disparai\w*|disparu\w*|verschwind\w*|verschwunden|scompai\w*|scompars\w*|sumiu|sumindo"
    r"|kaputt|funktionieren nicht)\b",
)
_PERSISTENCE = _any(
    # "thanks again" thanks once more: nothing persists in it.
    r"\b(?:still|(?<!thanks )(?<!thank you )again|persists?|even after|no luck|not just me"
    r"|same (?:error|problem|issue|thing|result))\b",
    r"\btried (?:that|this|it|everything|again|all|restarting|reinstalling|refreshing|clearing|logging|another"
    r"|a different|both|several)\b",
    r"\bdid(?:n'?t| not) (?:help|work|fix)\b|\bdoes(?:n'?t| not) help\b|\bnothing (?:works|worked|helps|helped)\b",
    r"\b(?:does|did|do|changes|changed) nothing\b|\bmade no difference\b|\bno difference\b",
    r"\b(?:that|this) (?:does|did)(?:n'?t| not) (?:work|help|fix)\b",
    r"\b(?:reinstall\w*|restart\w*|rebooted|cleared? (?:the |my )?(?:cache|cookies)|logged out and (?:back )?in)\b",
    r"\bsame (?:loop|behaviou?r|screen|message|bug|spinner)\b",
    r"\bsince (?:about |around )?(?:lunch(?:time)?|noon|midnight|the (?:update|upgrade|weekend|morning|afternoon))\b",
    r"\bsince (?:around |about |roughly |like )?(?:yesterday|this morning|last|monday|tuesday|wednesday|thursday"
    r"|friday|saturday|sunday|\d)",
    r"\bfor (?:hours|days|weeks|a week|a day|\d+ (?:hours|days|weeks))\b",
    r"\b(?:been|over|for) (?:\d+|two|three|four|five|six|several|a few|many) (?:hours|days|weeks)\b",
    r"\b(?:anyone|anybody) (?:in|on|at) (?:my|our) (?:team|org|organization|organisation|company|office|school)\b",
    r"\b(?:whole|entire) (?:team|org|organization|organisation|company|office|school)\b",
    r"\b(?:all|each|every one) of (?:my|our|the) (?:colleagues|coworkers|co-workers|users|teammates|members|staff)\b"
    r"|\bfor (?:all|everyone|everybody)\b",
    r"\bsame (?:in|on|for|with|everywhere|here|again)\b|\balready (?:tried|checked|did|restarted|reinstalled|cleared"
    r"|updated|enabled)\b",
    r"\b(?:everyone|everybody|nobody|no one|all of us|all our users|all my users)\b",
    r"\b(?:todavia|sigue|toujours|encore|immer noch|ainda|ancora)\b",
    r"\b(?:ya (?:lo )?(?:probe|intente|reinicie|reinstale|recargue|borre)|ja (?:tentei|testei|reiniciei|reinstalei)"
    r"|deja (?:essaye|redemarre|reinstalle)|schon (?:versucht|probiert|neu gestartet)|gia provato)\b",
    r"\bdesde (?:ayer|ontem|esta manana|esta manha|hace|ha)\b|\bdepuis (?:hier|ce matin|des heures)\b"
    r"|\bdepuis (?:plus de |environ )?(?:\d+|une|deux|trois|quatre|plusieurs) (?:heures?|jours?)\b"
    r"|\b(?:on a|j'?ai|nous avons) (?:vide|efface|redemarre|reinstalle)\b"
    r"|\bseit (?:gestern|heute (?:morgen|vormittag|mittag|fruh)|stunden|ungefahr|etwa|mehreren|einer|zwei|drei"
    r"|vier|\d)\b|\bda ieri\b|\b(?:betrifft|bei) alle(?:n)? im team\b|\b(?:cache|browser) (?:haben wir|habe ich)\b",
    r"\b(?:el mismo|o mesmo|le meme|das gleiche|dasselbe|lo stesso) (?:problema|error|erro|probleme|problem|errore"
    r"|fehler|loop|bucle)\b|\bmismo problema\b|\bmesmo problema\b",
)


# --- Matching -----------------------------------------------------------------------------------------


def _category_match(
    category: Category, text: str, earlier: Sequence[str], failure_by_meaning: str | None
) -> str | None:
    if category == Category.ACCOUNT_SECURITY:
        found = _SECURITY.search(text)
        return found.group(0) if found and not _SECURITY_HYPOTHETICAL.search(text) else None
    if category == Category.BILLING_DISPUTE:
        found = _BILLING.search(text)
        return found.group(0) if found and not _BILLING_QUESTION.search(text) else None
    if category == Category.LEGAL_OR_PRIVACY:
        found = _LEGAL.search(text) or (_CONTRACT.search(text) if not _HOW_TO.search(text) else None)
        if found:
            return found.group(0)
        asked = _ACCOUNT_DELETION.search(text) or _DATA_ACCESS.search(text) or _ERASURE.search(text)
        # "please delete my account" asks us to act; "how do I delete my account?" is a help-center question.
        if asked and _ASKED_OF_US.search(text) and not _HOW_TO.search(text):
            return asked.group(0)
        return None
    return _persisting_failure(text, earlier, failure_by_meaning)


def _persisting_failure(text: str, earlier: Sequence[str], failure_by_meaning: str | None) -> str | None:
    persistence = _PERSISTENCE.search(text)
    if persistence is None:
        return None
    failure = _FAILURE.search(text)
    if failure is not None:
        return f"{failure.group(0)} … {persistence.group(0)}"
    if any(_FAILURE.search(message) for message in earlier):
        return persistence.group(0)
    return f"{failure_by_meaning} … {persistence.group(0)}" if failure_by_meaning else None


_CATEGORY_BY_NAME = {_normalised(category.value): category for category in Category}


def _phrase_pattern(phrase: str) -> re.Pattern[str] | None:
    words = re.findall(r"\w+", _normalised(phrase))
    return re.compile(r"\b" + r"\W+".join(re.escape(word) for word in words) + r"\b") if words else None


def category_entry(topics: Iterable[object], category: str) -> str | None:
    """The admin's entry that switches ``category`` on (as they wrote it), or None when it is off."""
    for topic in topics:
        if isinstance(topic, str) and _CATEGORY_BY_NAME.get(_normalised(topic)) == _CATEGORY_BY_NAME.get(category):
            return topic.strip()
    return None


def human_only_topic(
    text: str,
    topics: Iterable[object],
    *,
    earlier: Sequence[str] = (),
    failure_by_meaning: str | None = None,
    company: str = "",
) -> TopicMatch | None:
    """The first of ``topics`` (the agent's setting, in order) that the user's message is about.

    ``earlier`` holds the user's previous messages in the conversation, most recent last: a persisting
    failure may have been described there. ``failure_by_meaning``, when given, says (in a few words) that the
    meaning of the message or of an earlier one reports a failure the patterns have no words for
    (``failure_unworded``). ``company`` is the name the customer knows the company by (the workspace's); ""
    when unknown. Entries that are not non-blank strings are ignored.
    """
    named = _normalised(company)
    normalised = _company_named(_normalised(text), named)
    earlier_normalised = [_company_named(_normalised(message), named) for message in earlier[-EARLIER_READ:]]
    for topic in topics:
        if not isinstance(topic, str) or not topic.strip():
            continue
        category = _CATEGORY_BY_NAME.get(_normalised(topic))
        if category is not None:
            words = _category_match(category, normalised, earlier_normalised, failure_by_meaning)
        else:
            pattern = _phrase_pattern(topic)
            found = pattern.search(normalised) if pattern else None
            words = found.group(0) if found else None
        if words is not None:
            return TopicMatch(topic=topic.strip(), words=words)
    return None


def failure_unworded(text: str, topics: Iterable[object], *, earlier: Sequence[str] = ()) -> bool:
    """Whether only the messages' meaning can still tell if this one is about a persisting failure: the
    persisting-problem category is on, the message says something persists ("still", "tried everything",
    "everyone in the office"), and neither it nor the last ``EARLIER_READ`` earlier messages tell a failure in
    words the patterns know ("every click takes 10 seconds")."""
    if category_entry(topics, Category.PERSISTENT_PROBLEM) is None:
        return False
    normalised = _normalised(text)
    if _PERSISTENCE.search(normalised) is None or _FAILURE.search(normalised) is not None:
        return False
    return not any(_FAILURE.search(_normalised(message)) for message in earlier[-EARLIER_READ:])


def reports_failure_in_words(text: str) -> bool:
    """Whether the message tells of a failure in words the patterns know ("won't load", "crashes", "error")."""
    return _FAILURE.search(_normalised(text)) is not None
