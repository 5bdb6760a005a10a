"""Whether a user message asks for a human: ``human_request(text, phrases=…) -> HumanRequest | None``.

People ask for a person in many ways ("agent please", "can I speak to someone?", "get me a human",
"I don't want to talk to a bot", "quiero hablar con una persona", with typos), and mention people without
asking for one ("how do I add a human teammate?", "talk to someone privately", "who is the agent for my
account?", "I don't need a human"). The message is read as words, not as a list of sentences:

1. Normalise: case folded, accents dropped, contractions spelled out ("don't" → "do not"), split into
   clauses at punctuation and "but"; a misspelt keyword is corrected when it is one or two edits from it
   ("humna", "represenative") and is not itself a common word.
2. Classify words: **person** nouns (human, agent, representative, customer service, someone, …),
   **support** ("support", "your team"), **bot** nouns, and verbs that **talk** (talk, speak, chat,
   hablar, parler, sprechen, falar), **transfer** (connect, transfer, put me through, escalate),
   **reach** (contact, reach, get in touch), **want** (want, need, would like, can I have, get me) and
   **help** (help, look at, call me back). A person noun is not one when the words around it make it a
   user of the product: a role or thing after it ("human teammate", "agent string", "support hours"), a
   possessive before it ("my manager"; an account manager stays the vendor's) or after it ("someone's
   role"), a place in the user's own organisation after it ("someone on my team", "someone else"), or a
   compound ("real estate agent").
3. A clause asks for a human when a talk/reach/transfer verb reaches a person or support noun through
   linking words ("speak to a real person", "contact support", "connect me with an agent"), a want verb
   reaches a person ("I need a human", "get me someone"), a person is asked to help ("can someone look at
   this?"), the clause is nothing but a person and politeness ("agent please", "is a human available?"),
   or it refuses the bot ("not a bot", "I don't want to talk to a robot", "I'm done with this chatbot").
   Opening a ticket counts as contacting support ("I want to open a ticket with your team"), and asking
   whom to talk to as asking for them ("who can I talk to about this?").
4. Vetoes: the request is negated ("I don't need a human", "no agent needed", "je ne veux pas parler à un
   humain" — a negation reaches the person or the verb; "why can't I talk to a human?" is not a
   negation), the clause asks about talking privately (a direct message, "without the channel seeing"),
   asks who or what a person is ("who is the agent for my account?"), or asks whether the assistant is a
   person ("am I chatting with a human?").

The company's own name (the workspace's, passed as ``company``) stands for its support: "can a person from
Acme reach out?" asks as "a person from support" does, and "talk to Acme" as "talk to support".

The admin's handoff phrases are matched as whole words (case, accents, punctuation and spacing ignored,
so "talk to someone" is found in "Can I TALK to\nsomeone?" but not in "talk to someones"), and a negated
phrase ("I don't want to talk to a human") does not count.

English, Spanish, French, German, Portuguese and Italian are covered. Pure: imports nothing of Django or
of the project (tested), no I/O; the labelled sets it is measured on are in ``tests/escalation/data/``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache


class Rule(StrEnum):
    """Which pattern recognised the request (kept with the turn's record, to explain a manual handoff)."""

    PHRASE = "phrase"  # one of the admin's handoff phrases
    TALK_TO_PERSON = "talk_to_person"  # "can I speak to a human", "contact support", "mit jemandem reden"
    TRANSFER = "transfer"  # "connect me with an agent", "escalate this"
    WANT_PERSON = "want_person"  # "I need a human", "get me someone", "can I have an agent"
    PERSON_HELPS = "person_helps"  # "can someone look at this", "have an agent call me"
    PERSON_ALONE = "person_alone"  # "agent please", "human!!", "is a human available?"
    NOT_A_BOT = "not_a_bot"  # "not a bot", "I don't want to talk to a robot"
    OFFER_ACCEPTED = "offer_accepted"  # "yes please" to the AI's offer of a teammate (see ``offer_reply``)


@dataclass(frozen=True, slots=True)
class HumanRequest:
    """A message read as a request for a human: the rule that fired and the (normalised) words it fired on."""

    rule: Rule
    words: str


# --- Word classes -------------------------------------------------------------------------------------


class Kind(StrEnum):
    PERSON = "person"  # a human who could take over: human, agent, representative, customer service
    SOMEONE = "someone"  # an indefinite person: someone, anyone, alguien, quelqu'un, jemand
    SUPPORT = "support"  # the vendor's support as a whole: "support", "your team"
    BOT = "bot"
    TALK = "talk"
    TRANSFER = "transfer"
    ESCALATE = "escalate"
    REACH = "reach"
    WANT = "want"
    GET = "get"  # get/give/bring/have: a want only in "get me a human", "can I have an agent"
    HELP = "help"  # what a person is asked to do: help, look, check, call (me back)
    NEGATION = "negation"
    MODAL = "modal"
    ME = "me"
    PRIVATE = "private"  # talking privately is a product question (a direct message), not a handoff
    OTHER = "other"


def _words(kind: Kind, text: str) -> dict[str, Kind]:
    return dict.fromkeys(text.split(), kind)


def _set(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Single words, after normalisation (case folded, accents dropped). Plurals and common verb forms are listed
# rather than stemmed, so nothing outside these lists changes class.
_LEXICON: dict[str, Kind] = {
    **_words(
        Kind.PERSON,
        "human humans hooman hoomans person persons agent agents representative representatives rep reps "
        "operator operators staff employee employees supervisor manager managers developer developers "
        "engineer engineers dev devs callback colleague colleagues "
        # Spanish, Portuguese, Italian
        "humano humanos humana persona personas agente agentes representante operador operadora asesor "
        "asesora ejecutivo pessoa pessoas atendente atendentes operatore operatrice umano "
        # French, German
        "humain humaine humains conseiller conseillere operateur operatrice interlocuteur "
        "mensch menschen menschlichen mitarbeiter mitarbeiterin ansprechpartner kundendienst kundenservice",
    ),
    **_words(Kind.SOMEONE, "someone somebody anyone anybody whoever alguien alguem quelquun jemand jemandem qualcuno"),
    **_words(Kind.SUPPORT, "support soporte suporte supporto"),
    **_words(Kind.BOT, "bot bots robot robots chatbot chatbots ai machine automated automatic computer"),
    **_words(
        Kind.TALK,
        "talk speak chat converse talking speaking chatting hablar hablo hable platicar conversar parler "
        "parle discuter sprechen spreche reden rede besprechen bespreche telefonieren falar falo fale parlare parlo",
    ),
    **_words(
        Kind.TRANSFER,
        "connect transfer forward pass hand switch redirect route connected transferred passed "
        "pasame pasar pasarme transferir transfiereme conectar conectame comunicame comunicar passez "
        "passer relation verbinden verbinde weiterleiten transfere transfira passa conecte",
    ),
    **_words(Kind.ESCALATE, "escalate escalated escalar eskalieren escalader"),
    **_words(
        Kind.REACH,
        "contact reach call phone email ring contactar contacter joindre kontaktieren erreichen contatar contattare",
    ),
    **_words(
        Kind.WANT,
        "want wanna need needs prefer rather request requesting ask asking looking demand require wish "
        "quiero quisiera necesito prefiero veux voudrais voulais besoin prefere mochte brauche quero "
        "queria preciso gostaria vorrei voglio bisogno",
    ),
    **_words(Kind.GET, "get give bring have"),
    **_words(
        Kind.HELP,
        "help look check review handle assist fix sort respond reply answer ayudar ayude ayudarme aider "
        "aide helfen hilft ajudar ajude aiutare aiuti",
    ),
    **_words(
        Kind.NEGATION,
        "not no never without nobody none nadie ningun ninguno ne pas nicht kein keine keinen nao nem "
        "ninguem nessuno sin sem",
    ),
    **_words(Kind.MODAL, "can could may might will would shall should"),
    **_words(Kind.ME, "me us moi mich mir nos"),
    **_words(Kind.PRIVATE, "privately private privado privada prive privee privat privaten dm dms oneonone"),
}

# Multi-word expressions, replaced by one word of the given class before anything else is read.
_EXPRESSIONS: tuple[tuple[str, str, Kind], ...] = (
    # people
    ("real person", "person", Kind.PERSON),
    ("live person", "person", Kind.PERSON),
    ("actual person", "person", Kind.PERSON),
    ("human being", "human", Kind.PERSON),
    ("human beings", "human", Kind.PERSON),
    ("flesh and blood", "human", Kind.PERSON),
    ("customer service representative", "representative", Kind.PERSON),
    ("customer service agent", "support agent", Kind.PERSON),
    ("customer support agent", "support agent", Kind.PERSON),
    ("customer service", "customer service", Kind.PERSON),
    ("customer support", "customer support", Kind.PERSON),
    ("customer care", "customer care", Kind.PERSON),
    ("customer success", "customer success", Kind.PERSON),
    ("tech support", "tech support", Kind.PERSON),
    ("technical support", "tech support", Kind.PERSON),
    ("support team", "support team", Kind.PERSON),
    ("support staff", "support staff", Kind.PERSON),
    ("support agent", "support agent", Kind.PERSON),
    ("support person", "support agent", Kind.PERSON),
    ("support rep", "support agent", Kind.PERSON),
    ("help desk", "help desk", Kind.PERSON),
    ("helpdesk", "help desk", Kind.PERSON),
    ("live agent", "agent", Kind.PERSON),
    ("live chat agent", "agent", Kind.PERSON),
    ("human agent", "agent", Kind.PERSON),
    ("member of staff", "staff", Kind.PERSON),
    ("staff member", "staff", Kind.PERSON),
    ("staff members", "staff", Kind.PERSON),
    ("member of your team", "staff", Kind.PERSON),
    ("a member of", "a", Kind.OTHER),  # "a member of your support staff" is the staff
    ("account manager", "account manager", Kind.PERSON),
    ("account rep", "account manager", Kind.PERSON),
    ("account representative", "account manager", Kind.PERSON),
    ("account executive", "account manager", Kind.PERSON),
    ("your team", "your team", Kind.SUPPORT),
    ("ur team", "your team", Kind.SUPPORT),
    ("your staff", "staff", Kind.PERSON),
    ("servicio al cliente", "customer service", Kind.PERSON),
    ("atencion al cliente", "customer service", Kind.PERSON),
    ("service client", "customer service", Kind.PERSON),
    ("service clientele", "customer service", Kind.PERSON),
    ("servico ao cliente", "customer service", Kind.PERSON),
    ("atendimento ao cliente", "customer service", Kind.PERSON),
    ("servizio clienti", "customer service", Kind.PERSON),
    ("persona real", "person", Kind.PERSON),
    ("vraie personne", "person", Kind.PERSON),
    ("une personne", "person", Kind.PERSON),  # bare "personne" is French for "nobody"
    ("echten person", "person", Kind.PERSON),
    ("echte person", "person", Kind.PERSON),
    ("einer person", "person", Kind.PERSON),
    ("pessoa real", "person", Kind.PERSON),
    ("de verdad", "", Kind.OTHER),
    ("de verdade", "", Kind.OTHER),
    # not people
    ("human resources", "hr", Kind.OTHER),
    ("real estate", "realestate", Kind.OTHER),
    ("user agent", "useragent", Kind.OTHER),
    ("ai agent", "bot", Kind.BOT),
    ("virtual assistant", "bot", Kind.BOT),
    # verbs
    ("put me through", "transfer|me", Kind.TRANSFER),
    ("put us through", "transfer|us", Kind.TRANSFER),
    ("hook me up", "transfer|me", Kind.TRANSFER),
    ("put me in touch", "transfer|me", Kind.TRANSFER),
    ("call back", "callback", Kind.PERSON),
    ("get in touch", "contact", Kind.REACH),
    # Opening a ticket is asking the vendor's support for a person ("I want to open a ticket with your team").
    ("open a ticket", "contact|support", Kind.REACH),
    ("open a support ticket", "contact|support", Kind.REACH),
    ("file a ticket", "contact|support", Kind.REACH),
    ("file a support ticket", "contact|support", Kind.REACH),
    ("submit a ticket", "contact|support", Kind.REACH),
    ("submit a support ticket", "contact|support", Kind.REACH),
    ("raise a ticket", "contact|support", Kind.REACH),
    ("raise a support ticket", "contact|support", Kind.REACH),
    ("file a complaint", "contact", Kind.REACH),  # with whom decides: "with a manager", not "about a user"
    ("get hold of", "contact", Kind.REACH),
    ("get ahold of", "contact", Kind.REACH),
    ("reach out to", "contact", Kind.REACH),
    ("en relation avec", "relation", Kind.TRANSFER),
    ("loop in", "get", Kind.GET),
    ("bring in", "get", Kind.GET),
    ("get back", "reply", Kind.HELP),
    ("walk me through", "help|me", Kind.HELP),
    ("walk us through", "help|us", Kind.HELP),
    ("walk me thru", "help|me", Kind.HELP),
    ("walk us thru", "help|us", Kind.HELP),
    ("one of your", "your", Kind.OTHER),
    ("one of your team", "your team", Kind.SUPPORT),
    ("follow up", "reply", Kind.HELP),
    ("ich will", "want", Kind.WANT),
    ("would like", "want", Kind.WANT),
    ("d like", "want", Kind.WANT),
    ("would love", "want", Kind.WANT),
    ("hatte gern", "want", Kind.WANT),
    ("hatte gerne", "want", Kind.WANT),
    ("ho bisogno", "want", Kind.WANT),
    ("one on one", "oneonone", Kind.PRIVATE),
    ("1 on 1", "oneonone", Kind.PRIVATE),
    ("1 1", "oneonone", Kind.PRIVATE),
    ("direct message", "dm", Kind.PRIVATE),
    ("direct messages", "dm", Kind.PRIVATE),
    ("private message", "dm", Kind.PRIVATE),
    ("en privado", "dm", Kind.PRIVATE),
    ("en prive", "dm", Kind.PRIVATE),
    ("em particular", "dm", Kind.PRIVATE),
    ("em privado", "dm", Kind.PRIVATE),
    ("in private", "dm", Kind.PRIVATE),
    ("in privat", "dm", Kind.PRIVATE),
    # Fed up with the bot: a refusal of it ("I'm done with this chatbot"), never a negation of a request.
    ("done with", "fedup", Kind.NEGATION),
    ("fed up with", "fedup", Kind.NEGATION),
    ("sick of", "fedup", Kind.NEGATION),
    ("tired of", "fedup", Kind.NEGATION),
)

# Words that may stand between a verb and the person it reaches: articles, adjectives of realness,
# prepositions, politeness — in every covered language.
_LINK = _set(
    "to 2 with w a an the some one any your ur yr my our real actual live proper genuine friendly directly right this "
    "now just please pls plz quick through thru over up for from help support assistance call callback "
    "chat word conversation quickly immediately asap "
    "con al un una uno el la los las de del a verdadero verdadera favor por "
    "avec au aux une un le la les des du d vrai vraie de "
    "mit zu zum einem einer einen ein eine dem den der echten echte echter bitte vom von richtigen "
    "com um uma o os as de da do para pra por favor "
    "con un una uno il lo la per favore vero vera"
)
# What a transfer verb may have as its object before "to <person>": "connect me", "escalate this".
_TRANSFER_OBJECT = _set(
    "me us moi mich mir nos this it my the chat conversation issue problem ticket case question request "
    "sie bitte please over through thru this"
)
# A clause made of a person and nothing but these is a bare request ("agent please", "is a human available?").
_BARE = _set(
    "please pls plz now asap right away quick quickly a an the real actual live just only i want need is are "
    "there any available around here online urgent urgently help hi hello hey ok okay yes so oh ugh um "
    "s il vous plait svp stp por favor bitte sofort un une una uno um uma einen einem ein eine echten echte "
    "vrai vraie de verdad verdade per favore subito ahora maintenant jetzt agora to talk speak"
)
# Words a negation passes over on its way to what it negates ("I do not really want to talk to a human").
_NEGATION_SKIP = _LINK | _set(
    "do does did really even i you we to am is are was be being more stupid dumb this that interested need "
    "needed necessary necesario necessaire notig necessario want wanting ask asking asked looking get "
    "involved needs any one anyone ai avons brauche brauchen ich will wir quero quiero no ne mochte moi "
    "me mich nos je yo eu io en es je veux voulons veut necesito preciso precisa falar hablar parler "
    "sprechen reden parlare talk speak chat transfer connect escalate contact reach have"
)
# After "who is …", "what are …" a person is being asked about, not for.
_WH = _set("who whom what whats which quien quem qui wer")
_COPULA = _set("is are s was were es est ist sind e")
# Words after a person noun that make it a modifier of a product thing ("human teammate", "agent string").
_THING = _set(
    "teammate teammates user users member members account accounts role roles integration integrations "
    "tool tools software app apps system systems hours email emails address number numbers page pages plan "
    "plans portal ticket tickets channel channels string strings seat seats license licenses licence bot "
    "bots group groups resources name names field fields profile profiles emoji list count type types "
    "setting settings permission permissions feature features option options api chat chats widget"
)
# A possessive before a person makes them the user's own ("my manager", "our support staff").
_POSSESSIVE = _set(
    "my our their his her its mi mis mon ma mes notre nos mein meine meinem meinen meiner unser unsere "
    "unserem meu minha meus minhas nosso nossa mio mia nostro nostra"
)
# Roles that belong to the vendor even after "my" ("can I talk to my account manager?").
_VENDOR_ROLES = frozenset({"account manager"})
# The ambiguous person nouns need a plain word before them: "a real estate agent", "HR people" are not.
_AMBIGUOUS = _set(
    "agent agents operator operators rep reps manager managers staff people person persons developer developers "
    "engineer engineers dev devs"
)
_BEFORE_AMBIGUOUS = (
    _LINK
    | _BARE
    | _set(
        "me us you i is are any some one human customer service your ur talk speak chat contact reach connect "
        "transfer want need get have call email hi hello hey no not"
    )
)
# "someone on my team", "a person in the channel", "someone else": a user of the product.
_PLACE_PREPOSITIONS = _set("on in from at of inside outside en dans de in im em no na di")
_PLACE_DETERMINERS = _POSSESSIVE | _set("this that a the another other other este esta ce cette")
_PLACES = _set(
    "team teams org orgs organization organizations organisation organisations company workspace channel "
    "channels stream streams group groups server servers class classes realm community thread threads topic "
    "chat equipo equipe organizacion organizacao canal gruppe grupo servidor serveur organisation"
)
_SEEING = _set("seeing see knowing know noticing notice reading read")
_BUT = _set("but pero mais aber pero pero però")
# "Am I talking to a human?", "are you a real person?": asking what the assistant is.
_IDENTITY_OPENINGS = (("am", "i"), ("are", "you"), ("r", "u"), ("is", "this"), ("is", "that"), ("was", "that"))
_ABLE = _set("able allowed")
# Interjection "no" before a new statement ("no, I want a human") is not a negation of it.
_AFTER_INTERJECTION = _set("i we please thanks thank just")
# Between "who" and a talk verb in "who can I talk to", "who should we contact".
_WHO_CAN = _set("can could should do may i we")
_HOW = _set("how what why where when como comment wie")
_DETERMINERS = _set("a an the video voice phone audio conference")
# Verbs that are never the name of a service, so "contact support" opening a message asks for it.
_CONTACT_VERBS = _set("contact reach")
# Where a verb can stand before a bare "support": "contact support", "I'd like to contact support".
_VERB_OPENERS = _set("i we you to please pls plz can could may would will just let me and or how")
_TO = _set("to with a con com para mit avec au zu")
_MODALS = _set("can could may might will would")
_BEFORE_HELP = _set(
    "to please just pls plz come and who that i we can could will would actually actual really maybe possibly kindly"
)
# "someone on your end", "jemand von Ihrem Team", "alguien de su equipo": whose side a person is named on.
_SIDE_PREPOSITIONS = _set("on from at von vom de da do du chez")
_YOUR = _set("your ur su sua seu votre vos ihrem ihrer eurem vostro vostra")
_THEIR_PLACES = _set(
    "end side company team staff firm office equipo equipe empresa lado parte firma seite entreprise azienda"
)
# Between a person and the verb: "a human I can talk to", "con quien pueda hablar", "mit einem Mitarbeiter von
# Ihnen sprechen" (German puts the verb last, after who the person belongs to).
_BEFORE_TALK = _set(
    "that who whom i we can could may might con com quien quem pueda puedo possa posso ich kann bitte von ihnen euch"
)
# "I'd rather explain this to a person", "prefiero explicárselo a una persona".
_WANT_LINK = _LINK | _set(
    "talk speak answer reply response callback deal work go discuss explain explicar explicarselo explicarle expliquer "
    "erklaren explica"
)
_PRESENT = _set("there here around available online")
_URGING = _set("please pls plz now asap urgent urgently bitte svp stp sofort subito ahora maintenant jetzt agora")
_GOOD = _set("great good nice helpful better best ideal appreciated awesome perfect lovely")


# --- Typo correction ----------------------------------------------------------------------------------

# Keywords a typo is corrected to. Short ones (four letters) only by a swap of two neighbours ("tlak").
_TYPO_TARGETS = _set(
    "human humans person people agent agents representative representatives operator someone somebody "
    "anyone anybody speak talk connect transfer support customer service supervisor manager want need real "
    "with chat staff employee escalate available please actual humano persona agente hablar alguien "
    "parler humain quelquun menschen mitarbeiter sprechen falar atendente pessoa alguem"
)
# The words of an English dictionary that are one or two edits from a keyword: real words, never
# "corrected" (listed by running the correction over the whole dictionary; "peak" is not "speak").
_REAL_WORDS = _set(
    "assailable avoidable connects customers employe employed employees employer employes escalated escalates "
    "factual gent gents homebody humane lease manage managed managers manages manger operators paler parley "
    "parlor parser parson peak pease peopled peoples personae personal persons pleas pleased pleases "
    "representation representations serviced services servile sneak someones speaks spear speck staffs steak "
    "stiff stuff superior supervise supervised supervises supervision supervisors supervisory supports "
    "tanager transfers unavailable unrepresentative"
)


def _edit_distance(first: str, second: str, limit: int) -> int:
    """Optimal string alignment distance (insert, delete, substitute, swap two neighbours), up to ``limit + 1``."""
    if abs(len(first) - len(second)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(second) + 1))
    for i, char in enumerate(first, start=1):
        current = [i] + [0] * len(second)
        for j, other in enumerate(second, start=1):
            cost = 0 if char == other else 1
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and char == second[j - 2] and first[i - 2] == other:
                value = min(value, previous2[j - 2] + 1)
            current[j] = value
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


def _allowed_edits(word: str) -> int:
    return 0 if len(word) <= 4 else 1 if len(word) <= 8 else 2


def _deletions(word: str, depth: int) -> set[str]:
    found = {word}
    frontier = {word}
    for _ in range(depth):
        frontier = {variant[:i] + variant[i + 1 :] for variant in frontier for i in range(len(variant))}
        found |= frontier
    return found


def _build_typo_index() -> dict[str, tuple[str, ...]]:
    """Every deletion variant of every keyword → the keywords it comes from (a symmetric-delete index)."""
    index: dict[str, set[str]] = {}
    for target in _TYPO_TARGETS:
        for variant in _deletions(target, max(1, _allowed_edits(target))):
            index.setdefault(variant, set()).add(target)
    return {variant: tuple(sorted(targets)) for variant, targets in index.items()}


_TYPO_INDEX = _build_typo_index()
_KNOWN = frozenset(_LEXICON) | _LINK | _BARE | _NEGATION_SKIP | _THING | _REAL_WORDS | frozenset(_TYPO_TARGETS)


@lru_cache(maxsize=4096)
def _corrected(word: str) -> str:
    """The keyword ``word`` is a typo of, or ``word`` itself."""
    if len(word) < 4 or word in _KNOWN or not word.isalpha():
        return word
    best, best_distance = word, 3
    for variant in _deletions(word, 2 if len(word) >= 8 else 1):
        for target in _TYPO_INDEX.get(variant, ()):
            allowed = _allowed_edits(target)
            if allowed == 0:
                # A four-letter keyword is corrected only from a swap of two neighbours ("tlak" → "talk").
                if len(word) == len(target) and _edit_distance(word, target, 1) == 1 and sorted(word) == sorted(target):
                    distance = 1
                else:
                    continue
            else:
                distance = _edit_distance(word, target, allowed)
                if distance > allowed:
                    continue
            if distance < best_distance or (distance == best_distance and target < best):
                best, best_distance = target, distance
    return best


# --- Normalisation ------------------------------------------------------------------------------------

_CONTRACTIONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"\b(can)'?t\b|\bcannot\b", "can not"),
        (r"\bwon'?t\b", "will not"),
        (r"\b(do|does|did|is|are|was|were|would|could|should|must|need|have|has|had|ai)n'?t\b", r"\1 not"),
        (r"n't\b", " not"),
        (r"\bi'?m\b", "i am"),
        (r"\bi'd\b", "i would"),
        (r"\blet'?s\b", "let us"),
        (r"'ll\b", " will"),
        (r"'re\b", " are"),
        (r"'ve\b", " have"),
        (r"\bquelqu'?un", "quelquun"),
        (r"\bs'?il (te|vous) plait\b", "svp"),
        (r"\bqu'", "que "),
        (r"'", " "),
    )
)
_TOKEN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*|[.!?;,:()\n]")
# The company's own name is read as this word: to its customers, the company is its support.
_COMPANY = "support"
_CLAUSE_BREAK = frozenset(".!?;,:()\n")


def _normalised(text: str) -> str:
    plain = text.casefold()
    if not plain.isascii():
        plain = "".join(char for char in unicodedata.normalize("NFKD", plain) if not unicodedata.combining(char))
    plain = plain.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'").replace("\u00b4", "'")
    plain = re.sub(r"\b1\s*:\s*1\b", " 1 1 ", plain)
    for pattern, replacement in _CONTRACTIONS:
        plain = pattern.sub(replacement, plain)
    return plain


@lru_cache(maxsize=64)
def _tokens(text: str) -> tuple[str, ...]:
    """The normalised words and clause breaks of ``text`` (a message is read by several rules: once)."""
    return tuple(_TOKEN.findall(_normalised(text)))


def words_of(text: str) -> list[str]:
    """The words of ``text`` as they are compared with phrases: folded, without accents or punctuation."""
    return [part for token in _tokens(text) for part in token.split("-") if part and part not in _CLAUSE_BREAK]


@dataclass(frozen=True, slots=True)
class _Word:
    text: str
    kind: Kind


def _expression_table() -> dict[str, list[tuple[tuple[str, ...], tuple[str, ...], Kind]]]:
    """Expressions by first word, longest first; a replacement "transfer|me" is two words, the first of the
    expression's class."""
    table: dict[str, list[tuple[tuple[str, ...], tuple[str, ...], Kind]]] = {}
    for source, replacement, kind in _EXPRESSIONS:
        words = tuple(source.split())
        table.setdefault(words[0], []).append((words, tuple(part for part in replacement.split("|") if part), kind))
    for entries in table.values():
        entries.sort(key=lambda entry: -len(entry[0]))
    return table


_EXPRESSION_TABLE = _expression_table()


def _clauses(text: str, company: tuple[str, ...] = ()) -> list[list[_Word]]:
    """The message as clauses of classified words, expressions joined, typos corrected, the company's name
    (its words, ``company``) read as its support."""
    clauses: list[list[str]] = [[]]
    tokens = _tokens(text)
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if company and tokens[i : i + len(company)] == company:
            clauses[-1].append(_COMPANY)
            i += len(company)
            continue
        if token in _CLAUSE_BREAK or token in _BUT:
            if clauses[-1]:
                clauses.append([])
        else:
            clauses[-1].extend(_hyphenated(token))
        i += 1
    return [_classified(words) for words in clauses if words]


def _hyphenated(token: str) -> list[str]:
    """A hyphenated word: "human-readable" stays one word (not a person); "mettez-moi" is read part by part."""
    parts = [_corrected(part) for part in token.split("-") if part]
    if len(parts) > 1 and _LEXICON.get(parts[0]) in (Kind.PERSON, Kind.SOMEONE, Kind.BOT):
        return ["".join(parts)]
    return parts


def _classified(tokens: list[str]) -> list[_Word]:
    words: list[_Word] = []
    i = 0
    while i < len(tokens):
        for source, replacement, kind in _EXPRESSION_TABLE.get(tokens[i], ()):
            if tuple(tokens[i : i + len(source)]) == source:
                if replacement:
                    words.append(_Word(replacement[0], kind))
                    words.extend(_Word(extra, _LEXICON.get(extra, Kind.OTHER)) for extra in replacement[1:])
                i += len(source)
                break
        else:
            words.append(_Word(tokens[i], _LEXICON.get(tokens[i], Kind.OTHER)))
            i += 1
    return _with_people_checked(words)


def _with_people_checked(words: list[_Word]) -> list[_Word]:
    """Person nouns that name a user of the product (or a thing) are not people who could take over;
    "someone from support" / "anyone from your team" become one person."""
    checked: list[_Word] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word.kind in (Kind.PERSON, Kind.SOMEONE, Kind.SUPPORT):
            if _names_a_user(words, i):
                word = _Word(word.text, Kind.OTHER)
            elif word.kind == Kind.SOMEONE:
                vendor = _vendor_after(words, i)
                if vendor is not None:
                    checked.append(_Word(" ".join(w.text for w in words[i : vendor + 1]), Kind.PERSON))
                    i = vendor + 1
                    continue
        checked.append(word)
        i += 1
    return checked


def _names_a_user(words: list[_Word], i: int) -> bool:
    word = words[i]
    before = words[i - 1].text if i > 0 else ""
    after = words[i + 1].text if i + 1 < len(words) else ""
    return (
        (after in _THING and not _verb_on_me(words, i + 1))  # "human teammate", "agent string", "support hours"
        or after in ("s", "else")  # "a person's role", "someone else"
        or (before in _POSSESSIVE and word.text not in _VENDOR_ROLES)  # "my manager", "our support staff"
        or (word.text in _AMBIGUOUS and i > 0 and before not in _BEFORE_AMBIGUOUS)  # "real estate agent"
        or _followed_by_own_place(words, i)  # "someone on my team"
    )


def _verb_on_me(words: list[_Word], i: int) -> bool:
    """A thing-word used as a verb on the user: "have someone email me", "can an agent chat with us"."""
    following = words[i + 1 : i + 3]
    return bool(following) and (
        following[0].kind == Kind.ME
        or (len(following) == 2 and following[0].text in _TO and following[1].kind == Kind.ME)
    )


def _followed_by_own_place(words: list[_Word], i: int) -> bool:
    """A place in the user's own organisation: "someone on my team", "a person in the channel"."""
    after = [word.text for word in words[i + 1 : i + 4]]
    if not after or after[0] not in _PLACE_PREPOSITIONS or after[:3] == ["from", "the", "team"]:
        return False  # "someone from the team" is the vendor's
    rest = after[1:]
    if rest and rest[0] in _PLACES:
        return True
    return len(rest) >= 2 and rest[0] in _PLACE_DETERMINERS and rest[1] in _PLACES


def _vendor_after(words: list[_Word], i: int) -> int | None:
    """The last word of "from support", "from (your|the) team", "vom Support" after an indefinite person."""
    if i + 1 >= len(words) or words[i + 1].text not in _PLACE_PREPOSITIONS | {"vom", "do", "da", "du"}:
        return None
    for j in range(i + 2, min(len(words), i + 4)):
        the_team = [word.text for word in words[i + 1 : j + 1]] == ["from", "the", "team"]
        if words[j].kind in (Kind.PERSON, Kind.SUPPORT) or the_team:
            return j
        if words[j].text not in ("the", "your", "ur", "el", "la", "le", "der", "dem", "o", "a"):
            return None
    return None


# --- Rules --------------------------------------------------------------------------------------------

_TARGETS = (Kind.PERSON, Kind.SOMEONE, Kind.SUPPORT)
_WANTED = (Kind.PERSON, Kind.SOMEONE)


def _reach(
    words: list[_Word], start: int, kinds: tuple[Kind, ...], links: frozenset[str], limit: int = 6
) -> int | None:
    """Index of the first word of ``kinds`` after ``start`` reached through ``links`` only, if any."""
    for j in range(start + 1, min(len(words), start + 1 + limit)):
        if words[j].kind in kinds:
            return j
        if words[j].text not in links:
            return None
    return None


def _find_request(words: list[_Word]) -> tuple[Rule, int, int] | None:
    """The first request in a clause: its rule and the span (first, last word) it covers."""
    texts = [word.text for word in words]
    for i, word in enumerate(words):
        found = _request_at(words, texts, i, word.kind)
        if found is not None:
            return found
    return _person_alone(words)


def _person_alone(words: list[_Word]) -> tuple[Rule, int, int] | None:
    """A person and nothing else: "agent please", "a real person now", "is a human available?", "anybody there?"."""
    people = [i for i, word in enumerate(words) if word.kind in _TARGETS]
    if not people or not all(word.kind in _TARGETS or word.text in _BARE for word in words):
        return None
    texts = {word.text for word in words}
    kinds = {word.kind for word in words}
    # "support" alone may be a topic; "support please", "support now" asks for it.
    if Kind.PERSON in kinds or _PRESENT & texts or (Kind.SUPPORT in kinds and _URGING & texts):
        return Rule.PERSON_ALONE, people[0], people[0]
    return None  # a bare "someone?" does not say what for


def _request_at(words: list[_Word], texts: list[str], i: int, kind: Kind) -> tuple[Rule, int, int] | None:
    before = texts[i - 1] if i > 0 else ""
    if kind in (Kind.TALK, Kind.REACH) and before not in _DETERMINERS:
        j = _reach(words, i, _TARGETS, _LINK)
        # "phone support", "live chat support" name a service; "contact support" asks for it.
        names_a_service = j == i + 1 and words[j].kind == Kind.SUPPORT and before not in _VERB_OPENERS
        if j is not None and not (names_a_service and not (i == 0 and texts[i] in _CONTACT_VERBS)):
            return Rule.TALK_TO_PERSON, i, j
        if (
            j is None
            and _who_can_i(texts, i)
            and not any(_followed_by_own_place(words, k) for k in range(i, len(words)))
        ):
            return Rule.TALK_TO_PERSON, 0, i  # "who can I talk to about this?", not "… at my company"
    elif kind in (Kind.TALK, Kind.REACH):
        # "a call with somebody from your side": the noun asks for a person only when the person is the vendor's
        # ("a call with someone from my team" is a how-to).
        j = _reach(words, i, _TARGETS, _LINK)
        last = _their_side_after(words, j) if j is not None else i
        if j is not None and last > j:
            return Rule.TALK_TO_PERSON, i, last
    elif kind == Kind.TRANSFER:
        return _transfer_at(words, texts, i)
    elif kind == Kind.ESCALATE and not (set(texts[:i]) & _HOW) and _escalates_the_case(texts, i):
        return Rule.TRANSFER, i, i  # "escalate", "please escalate this"
    elif kind == Kind.WANT and (texts[i] != "like" or before in ("would", "d")):
        j = _reach(words, i, _WANTED, _WANT_LINK)
        if j is not None and _wanted_for_help(words, j):
            return Rule.WANT_PERSON, i, j
    elif kind == Kind.GET and _get_asks(texts, i):
        # "get me support" asks for it; "get support for tables" is a topic.
        for_me = i + 1 < len(texts) and texts[i + 1] in ("me", "us")
        j = _reach(words, i, _TARGETS if for_me else _WANTED, _LINK | {"me", "us"})
        if j is not None and _wanted_for_help(words, j):
            return Rule.WANT_PERSON, i, j
    elif kind in _WANTED:
        return _person_asked_at(words, texts, i)
    return None


def _who_can_i(texts: list[str], i: int) -> bool:
    """The verb at ``i`` is asked whom to reach: "who can I talk to", "who should we contact"."""
    between = texts[1:i]
    return (
        2 <= i <= 4
        and texts[0] in ("who", "whom")
        and bool({"i", "we"} & set(between))  # "who can talk in this channel" asks about permissions
        and all(text in _WHO_CAN for text in between)
    )


def _transfer_at(words: list[_Word], texts: list[str], i: int) -> tuple[Rule, int, int] | None:
    """A transfer: "connect me with an agent", "pásame con un agente", "transfer me"."""
    k = i
    while k + 1 < len(words) and texts[k + 1] in _TRANSFER_OBJECT:
        k += 1
    has_object = k > i
    if not (has_object or texts[i] == "relation" or (k + 1 < len(words) and texts[k + 1] in _TO)):
        return None  # "transfer ownership to someone", "forward a message to someone"
    j = _reach(words, k, _TARGETS, _LINK)
    if j is not None:
        return Rule.TRANSFER, i, j
    if has_object and texts[k] in ("me", "us") and all(text in _BARE for text in texts[k + 1 :]):
        return Rule.TRANSFER, i, k
    return None


def _wanted_for_help(words: list[_Word], j: int) -> bool:
    """Someone wanted to help: "I need someone to look at this", not "I need someone to approve members"."""
    if j + 2 < len(words) and words[j + 1].text == "to" and words[j + 2].kind not in (Kind.PERSON, Kind.SOMEONE):
        return words[j + 2].kind in (Kind.HELP, Kind.REACH, Kind.TALK)
    return True


def _escalates_the_case(texts: list[str], i: int) -> bool:
    """Escalating the case: "escalate", "escalate this", "escalate my issue" — not "escalate permissions"."""
    rest = texts[i + 1 : i + 3]
    if not rest or rest[0] in _TRANSFER_OBJECT | _BARE | _TO:
        return True
    return rest[0] in _POSSESSIVE and len(rest) > 1 and rest[1] in _TRANSFER_OBJECT


def _get_asks(texts: list[str], i: int) -> bool:
    """A get that asks: "get me a human", "give me a person", "can I have an agent" — not "give someone permission"."""
    after = texts[i + 1] if i + 1 < len(texts) else ""
    if texts[i] == "give":
        return after in ("me", "us")
    if texts[i] == "have":
        return i >= 2 and texts[i - 2] in _MODALS and texts[i - 1] in ("i", "we")
    return True


def _their_side_after(words: list[_Word], i: int) -> int:
    """The last word of "on your end", "from your company", "at support" right after the person at ``i`` (``i``
    itself when there is none): it says whose the person is, not what they should do."""
    after = words[i + 1 : i + 4]
    if len(after) < 2 or after[0].text not in _SIDE_PREPOSITIONS:
        return i
    if after[1].kind == Kind.SUPPORT:
        return i + 2
    their_side = len(after) == 3 and after[1].text in _YOUR and after[2].text in _THEIR_PLACES
    return i + 3 if their_side else i


def _person_asked_at(words: list[_Word], texts: list[str], i: int) -> tuple[Rule, int, int] | None:
    # A person asked to do something: "can someone look at this?", "please have an agent call me", "is there
    # someone on your end who could walk me through it?".
    j = _reach(words, _their_side_after(words, i), (Kind.HELP, Kind.REACH), _BEFORE_HELP, limit=4)
    if j is not None and _in_request_frame(words, i):
        return Rule.PERSON_HELPS, i, j
    # "is there a human I can talk to", "mit einem Menschen sprechen", "con quien pueda hablar"
    j = _reach(words, _their_side_after(words, i), (Kind.TALK,), _BEFORE_TALK, limit=4)
    if j is not None:
        return Rule.TALK_TO_PERSON, i, j
    # "an actual person would be great"
    if texts[i + 1 : i + 3] == ["would", "be"] and i + 3 < len(texts) and texts[i + 3] in _GOOD:
        return Rule.WANT_PERSON, i, i + 3
    return None


def _in_request_frame(words: list[_Word], i: int) -> bool:
    """A person is being asked for: a modal or "please"/"have"/"let" before them, or they open the clause."""
    if i == 0 or all(word.text in _BARE for word in words[:i]):
        return True
    return any(word.kind == Kind.MODAL or word.text in ("please", "have", "let", "pls", "plz") for word in words[:i])


def _negation_reaches(words: list[_Word], span: tuple[int, int]) -> bool:
    """Whether a negation before the request reaches it through verbs and linking words ("I do not want a
    human", "no agent needed", "ich will nicht mit einem Menschen sprechen")."""
    first, last = span
    for i in range(first):
        if words[i].kind != Kind.NEGATION or _not_a_negation(words, i):
            continue
        for j in range(i + 1, min(len(words), i + 9)):
            if first <= j <= last:
                return True
            if words[j].text not in _NEGATION_SKIP and words[j].kind not in (Kind.NEGATION, Kind.MODAL):
                break
    return False


def _not_a_negation(words: list[_Word], i: int) -> bool:
    text = words[i].text
    if text == "fedup":
        return True  # "fed up with the bot, get me a human" asks
    before = words[i - 1].text if i > 0 else ""
    after = words[i + 1].text if i + 1 < len(words) else ""
    if text == "not" and before in ("can", "could", "will"):
        return True  # "why can't I talk to a human?", "why won't you let me …" still ask
    return text == "no" and i == 0 and after in _AFTER_INTERJECTION  # "no I want a human"


def _refuses_bot(words: list[_Word]) -> tuple[int, int] | None:
    """A refusal of the bot ("not a bot", "I don't want to talk to a robot"): a request for a human."""
    for i, word in enumerate(words):
        fed_up = word.text == "fedup"
        if word.kind != Kind.NEGATION or (_not_a_negation(words, i) and not fed_up):
            continue
        through_verb = fed_up or i == 0 or (i == 1 and words[0].text in _BARE)
        for j in range(i + 1, min(len(words), i + 9)):
            if words[j].kind == Kind.BOT:
                return (i, j) if through_verb else None
            if words[j].kind in (Kind.WANT, Kind.TALK, Kind.GET):
                through_verb = True
            elif words[j].text not in _NEGATION_SKIP:
                break
    return None


def _vetoed(words: list[_Word]) -> bool:
    """Clauses that talk about people without asking for one."""
    texts = [word.text for word in words]
    if any(word.kind == Kind.PRIVATE for word in words):
        return True  # "talk to someone privately", "hablar con alguien en privado"
    if "without" in texts:
        after = texts[texts.index("without") + 1 : texts.index("without") + 7]
        if _SEEING & set(after):
            return True  # "talk to one person without the whole channel seeing"
    if len(texts) >= 2 and texts[0] in _WH and texts[1] in _COPULA:
        return True  # "who is the agent for my account?"
    for opening in _IDENTITY_OPENINGS:
        if tuple(texts[:2]) == opening and not (len(texts) > 2 and texts[2] in _ABLE):
            return True  # "am I talking to a human?", "are you a real person?"
    for i in range(1, len(words) - 1):
        # "a real person or an AI?": asking what the assistant is.
        if texts[i] == "or":
            left = {word.kind for word in words[max(0, i - 3) : i]}
            right = {word.kind for word in words[i + 1 : i + 4]}
            if (Kind.PERSON in left and Kind.BOT in right) or (Kind.BOT in left and Kind.PERSON in right):
                return True
    return False


def _clause_request(words: list[_Word]) -> HumanRequest | None:
    if _vetoed(words):
        return None
    found = _find_request(words)
    if found is not None:
        rule, first, last = found
        if not _negation_reaches(words, (first, last)):
            return HumanRequest(rule, " ".join(word.text for word in words[first : last + 1]))
    refusal = _refuses_bot(words)
    if refusal is not None:
        first, last = refusal
        return HumanRequest(Rule.NOT_A_BOT, " ".join(word.text for word in words[first : last + 1]))
    return None


# --- Phrases ------------------------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _phrase_words(phrases: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    found = (tuple(words_of(phrase)) for phrase in phrases)
    return tuple(words for words in found if words)


def _phrase_found(text: str, phrases: tuple[str, ...]) -> str | None:
    """The first configured phrase found as whole words and not negated ("I don't want to talk to a human").

    Punctuation and line breaks between its words do not hide a phrase; a negation counts only within the
    phrase's clause."""
    if not phrases:
        return None
    words: list[str] = []
    clause_starts: list[int] = []  # for each word, where its clause starts
    start = 0
    for token in _tokens(text):
        if token in _CLAUSE_BREAK:
            start = len(words)
            continue
        for part in token.split("-"):
            if part:
                words.append(part)
                clause_starts.append(start)
    for phrase in _phrase_words(phrases):
        size = len(phrase)
        for first in range(len(words) - size + 1):
            if tuple(words[first : first + size]) == phrase:
                offset = clause_starts[first]
                clause = [_Word(word, _LEXICON.get(word, Kind.OTHER)) for word in words[offset : first + size]]
                if not _negation_reaches(clause, (first - offset, first - offset + size - 1)):
                    return " ".join(phrase)
    return None


def phrase_found(text: str, phrases: Iterable[str]) -> bool:
    """Whether ``text`` contains one of ``phrases`` as whole words (case, accents and spacing ignored)."""
    return _phrase_found(text, tuple(phrases)) is not None


# --- The entry point ----------------------------------------------------------------------------------


def human_request(text: str, *, phrases: Sequence[str] = (), company: str = "") -> HumanRequest | None:
    """Whether the user's message asks for a human, and why; None when it does not. ``company`` is the name the
    customer knows the company by (the workspace's), read as its support; "" when unknown."""
    phrase = _phrase_found(text, tuple(phrases))
    if phrase is not None:
        return HumanRequest(Rule.PHRASE, phrase)
    company_words = tuple(word for word in _tokens(company) if word not in _CLAUSE_BREAK)
    for clause in _clauses(text, company_words):
        request = _clause_request(clause)
        if request is not None:
            return request
    return None


# --- A reply to the AI's offer of a teammate ----------------------------------------------------------


class OfferReply(StrEnum):
    """How the customer answered "Would you like me to connect you with a teammate?"."""

    YES = "yes"
    NO = "no"


# Phrases of consent and refusal as people type them; a reply is read as one of them only when nothing else is
# said beside it ("yes they're enabled in the settings" answers another question).
_YES = (
    "yes please|yes pls|yes plz|yes|yeah|yea|yep|yup|ya|y|sure|sure thing|ok|okay|k|please|please do|do it|go ahead"
    "|go for it|that would be great|that would be helpful|that would be nice|that'd be great|would be great"
    "|sounds good|sounds great|i would like that|i'd like that|absolutely|definitely|of course|connect me"
    "|si|claro|por favor|oui|d'accord|ja|gerne|bitte|sim|certo"
)
_NO = (
    "no thanks|no thank you|no|nope|nah|not now|not yet|not right now|maybe later|i'm good|i'm fine|that's ok"
    "|that's okay|that's fine|it's ok|it's fine|all good|no need|never mind|nevermind|let me try|i'll try"
    "|i'll try myself|i'll figure it out|non merci|non|nein danke|nein|nao obrigado|nao"
)
# Weak consent: "ok" alone accepts, "ok thanks" closes the conversation.
_WEAK_YES = frozenset({("ok",), ("okay",), ("k",)})
_THANKS = frozenset({"thanks", "thank", "thx", "ty"})
_FILLER_IN_REPLIES = _set("thanks thank you thx ty so much really just oh then myself")


def _reply_words(text: str) -> list[list[str]]:
    """The reply as clauses of plain words ("I'm good, thanks!" → [["i", "am", "good"], ["thanks"]])."""
    clauses: list[list[str]] = [[]]
    for token in _tokens(text):
        if token in _CLAUSE_BREAK:
            if clauses[-1]:
                clauses.append([])
        else:
            clauses[-1].extend(part for part in token.split("-") if part)
    return [clause for clause in clauses if clause]


def _phrases(alternatives: str) -> tuple[tuple[str, ...], ...]:
    """Normalised like a reply, longest first (so "please do" is read before "please")."""
    found = {tuple(word for clause in _reply_words(phrase) for word in clause) for phrase in alternatives.split("|")}
    return tuple(sorted(found, key=lambda words: (-len(words), words)))


_YES_PHRASES = _phrases(_YES)
_NO_PHRASES = _phrases(_NO)


def _phrases_in(words: list[str], phrases: tuple[tuple[str, ...], ...]) -> list[tuple[str, ...]] | None:
    """The ``phrases`` that ``words`` consist of (beside polite filler), or None when anything else is said."""
    found: list[tuple[str, ...]] = []
    i = 0
    while i < len(words):
        for phrase in phrases:
            if tuple(words[i : i + len(phrase)]) == phrase:
                found.append(phrase)
                i += len(phrase)
                break
        else:
            if words[i] not in _FILLER_IN_REPLIES:
                return None
            i += 1
    return found


def offer_reply(text: str) -> OfferReply | None:
    """Whether the customer accepted (YES) or declined (NO) the offer of a teammate, or said something else.

    A refusal may open a new question ("no thanks. how do I rename a topic?"): it is still a NO, and the
    question gets its answer. Consent must stand alone: "yes they're enabled in the settings" is not one.
    """
    clauses = _reply_words(text)
    if not clauses:
        return None
    consent = [_phrases_in(clause, _YES_PHRASES) for clause in clauses]
    if all(found is not None for found in consent):
        used = {phrase for found in consent if found for phrase in found}
        thanked = any(word in _THANKS for clause in clauses for word in clause)
        if used and not (used <= _WEAK_YES and thanked):
            return OfferReply.YES
        return None
    if _phrases_in(clauses[0], _NO_PHRASES):
        return OfferReply.NO
    return None
