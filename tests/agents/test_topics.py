"""Problems only a human can solve (``agents/topics.py``): each built-in category in many phrasings, the
questions the help center answers instead, the admin's own phrases, and that it imports nothing of Django."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agents.topics import (
    DEFAULT_HUMAN_ONLY_TOPICS,
    Category,
    TopicMatch,
    failure_unworded,
    human_only_topic,
    reports_failure_in_words,
)

CATEGORIZED = [
    (Category.ACCOUNT_SECURITY, "my account got hacked last night"),
    (Category.ACCOUNT_SECURITY, "I think my account has been compromised"),
    (Category.ACCOUNT_SECURITY, "someone logged into my account from another country"),
    (Category.ACCOUNT_SECURITY, "somebody changed my password and now I'm locked out"),
    (Category.ACCOUNT_SECURITY, "there's a suspicious login on my account"),
    (Category.ACCOUNT_SECURITY, "I'm seeing unauthorized access to our organization"),
    (Category.ACCOUNT_SECURITY, "a message was posted from my account and it wasn't me"),
    (Category.ACCOUNT_SECURITY, "mi cuenta fue hackeada"),
    (Category.ACCOUNT_SECURITY, "mein Konto wurde gehackt"),
    (Category.ACCOUNT_SECURITY, "my former employee still has admin access and changed our settings"),
    (Category.ACCOUNT_SECURITY, "someone has been sending messages as me"),
    (Category.ACCOUNT_SECURITY, "there's a message in #general with my name on it that I never wrote"),
    (Category.ACCOUNT_SECURITY, "I can't get into my account, the recovery email was changed and it's not mine"),
    (Category.ACCOUNT_SECURITY, "my phone number for 2fa got swapped for a number I don't recognize"),
    (Category.ACCOUNT_SECURITY, "the password was reset last night, we never did that"),
    (Category.BILLING_DISPUTE, "you charged us twice this month"),
    (Category.BILLING_DISPUTE, "I was billed again after cancelling"),
    (Category.BILLING_DISPUTE, "there's a charge on my card I don't recognize"),
    (Category.BILLING_DISPUTE, "we were overcharged for 50 seats"),
    (Category.BILLING_DISPUTE, "I want a refund"),
    (Category.BILLING_DISPUTE, "can I get my money back?"),
    (Category.BILLING_DISPUTE, "I'm disputing this invoice with my bank"),
    (Category.BILLING_DISPUTE, "quiero un reembolso"),
    (Category.BILLING_DISPUTE, "you billed us for 40 seats but we only have 25 users"),
    (Category.BILLING_DISPUTE, "I want the difference refunded"),
    (Category.BILLING_DISPUTE, "why did you take $240 from my card? I never signed up for a paid plan"),
    (Category.BILLING_DISPUTE, "we paid for the annual plan but the account still shows as free"),
    (Category.BILLING_DISPUTE, "we cancelled in march but you've charged us for april and may"),
    (Category.BILLING_DISPUTE, "the invoice amount is wrong, we were supposed to get the education discount"),
    (Category.LEGAL_OR_PRIVACY, "my attorney will contact you"),
    (Category.LEGAL_OR_PRIVACY, "we received a subpoena regarding a user"),
    (Category.LEGAL_OR_PRIVACY, "under the GDPR, I'd like a copy of all data you hold about me"),
    (Category.LEGAL_OR_PRIVACY, "please delete all my data"),
    (Category.LEGAL_OR_PRIVACY, "I want you to erase my personal information"),
    (Category.LEGAL_OR_PRIVACY, "please delete my account and everything in it"),
    (Category.LEGAL_OR_PRIVACY, "can you delete our organization for us?"),
    (Category.LEGAL_OR_PRIVACY, "Please cancel my account at the end of this month."),
    (Category.LEGAL_OR_PRIVACY, "this is a DMCA notice"),
    (Category.LEGAL_OR_PRIVACY, "I need a copy of all the personal data you have on me"),
    (Category.LEGAL_OR_PRIVACY, "I'd like everything you have on me purged from your systems"),
    (Category.ACCOUNT_SECURITY, "my email was changed to an address I've never seen, I definitely didn't do that"),
    (Category.PERSISTENT_PROBLEM, "la búsqueda no me devuelve nada desde esta mañana, ya recargué la página"),
    (Category.PERSISTENT_PROBLEM, "the export keeps failing and clicking retry does nothing"),
    (Category.PERSISTENT_PROBLEM, "my scheduled message never went out, tried again and it just sits there"),
    (Category.PERSISTENT_PROBLEM, "les fichiers ne s'envoient pas, on a vidé le cache, ça dure depuis deux heures"),
    (Category.ACCOUNT_SECURITY, "two admins were demoted overnight and nobody on our side did this"),
    (Category.LEGAL_OR_PRIVACY, "I'd like the personal information you hold on me to be deleted, all of it"),
    (Category.PERSISTENT_PROBLEM, "google login is stuck on the spinner, cleared cookies and it's the same loop"),
    (Category.PERSISTENT_PROBLEM, "seit heute Vormittag verschwinden Nachrichten, Cache haben wir geleert"),
    (Category.LEGAL_OR_PRIVACY, "our auditors need your data processing agreement signed by someone on your side"),
    (Category.PERSISTENT_PROBLEM, "the mobile app shows an error and nobody on our team can log in since around 8"),
    (Category.ACCOUNT_SECURITY, "there are direct messages from me to our CFO that I never sent"),
    (
        Category.ACCOUNT_SECURITY,
        "a message went out from my account to the whole #sales channel at 4am asking for gift cards. I was not"
        " even awake. I didn't write that",
    ),
    (Category.PERSISTENT_PROBLEM, "zulip has been down for everyone in our company for 2 hours"),
    (Category.PERSISTENT_PROBLEM, "I tried reinstalling and it still crashes on launch"),
    (Category.PERSISTENT_PROBLEM, "still getting error 500 after clearing the cache"),
    (Category.PERSISTENT_PROBLEM, "no puedo subir archivos desde ayer, ya probé otro navegador"),
    (Category.PERSISTENT_PROBLEM, "não consigo enviar mensagens, já reiniciei o app e é o mesmo problema"),
    (Category.PERSISTENT_PROBLEM, "die Suche geht nicht, seit gestern schon, schon neu gestartet"),
    (Category.PERSISTENT_PROBLEM, "je n'arrive pas à me connecter depuis ce matin, déjà essayé de vider le cache"),
    (Category.PERSISTENT_PROBLEM, "notifications don't work, and restarting didn't help"),
    (Category.PERSISTENT_PROBLEM, "the mobile app keeps crashing and reinstalling didn't fix it"),
    (Category.PERSISTENT_PROBLEM, "it's been 3 days and nothing arrives for anyone in our org"),
    (Category.PERSISTENT_PROBLEM, "I cleared my browser data and I'm still losing drafts"),
    (Category.PERSISTENT_PROBLEM, "the unread count is wrong, I logged out and in and it's still wrong"),
    (Category.PERSISTENT_PROBLEM, "the app won't let me log in, reinstalled it and it's the same"),
]

ANSWERED_BY_THE_HELP_CENTER = [
    "where can I download your DPA to sign it?",
    "how long is personal data kept before it is deleted?",
    "how do I delete my uploads from your servers?",
    "are deleted messages removed from your servers?",
    "how do I protect my account from being hacked?",
    "what should I do if my account is compromised?",
    "how do I see which devices are logged in",
    "can someone else log in to my account if I share my API key?",
    "what's your refund policy?",
    "do you offer refunds on annual plans?",
    "how do I download an invoice?",
    "how am I billed when I add users?",
    "can I pay by bank transfer?",
    "is zulip gdpr compliant?",
    "how do I delete my account?",
    "how do I cancel my account?",
    "how do I delete a message?",
    "how do I export my data?",
    "what's the legal name of the company on invoices?",
    "how do I handle GDPR requests from my users?",
    "notifications don't work on my phone",  # a first report: the help center may know the fix
    "the app crashed once",
    "I get an error when uploading",
    "is zulip down?",
    "it keeps logging me out",
    "thanks, that worked!",
    "I still can't find the dark mode setting",
    "how do I reinstall the desktop app?",
    "how do I remove a former employee's access?",
    "if I cancel mid-month and add users, will I be billed for the full month?",
    "how do I export all personal data zulip stores about a user?",
    "the price on the pricing page is wrong",
    "it won't let me log in",  # a first report
    "how do I send messages as a bot?",
    "can I remove a message someone else posted in my channel?",
    "I paid for the plan, how do I add users?",
    "my password was changed by an admin, how do I set a new one?",
]


@pytest.mark.parametrize(("category", "text"), CATEGORIZED)
def test_each_category_is_recognised_in_many_phrasings(category: Category, text: str) -> None:
    match = human_only_topic(text, DEFAULT_HUMAN_ONLY_TOPICS)
    assert match is not None
    assert match.topic == category.value


@pytest.mark.parametrize("text", ANSWERED_BY_THE_HELP_CENTER)
def test_questions_the_help_center_answers_are_not_human_only(text: str) -> None:
    assert human_only_topic(text, DEFAULT_HUMAN_ONLY_TOPICS) is None


def test_a_failure_told_earlier_persists_in_a_later_message() -> None:
    earlier = ["zulip keeps crashing when I open the compose box", "on android, version 30"]
    assert human_only_topic("it happens even after restarting my phone", DEFAULT_HUMAN_ONLY_TOPICS) is None
    match = human_only_topic("it happens even after restarting my phone", DEFAULT_HUMAN_ONLY_TOPICS, earlier=earlier)
    assert match is not None
    assert match.topic == Category.PERSISTENT_PROBLEM.value
    assert human_only_topic("thanks again, found it", DEFAULT_HUMAN_ONLY_TOPICS, earlier=earlier) is None
    assert human_only_topic("it crashed again", DEFAULT_HUMAN_ONLY_TOPICS, earlier=earlier) is not None


def test_a_persisting_failure_the_patterns_have_no_words_for_is_left_to_the_messages_meaning() -> None:
    earlier = ["every click takes ten seconds before anything happens"]
    text = "everyone in the office has the same problem"
    assert not reports_failure_in_words(earlier[0])
    assert failure_unworded(text, DEFAULT_HUMAN_ONLY_TOPICS, earlier=earlier)
    assert human_only_topic(text, DEFAULT_HUMAN_ONLY_TOPICS, earlier=earlier) is None
    meaning = "a failure by meaning"
    match = human_only_topic(text, DEFAULT_HUMAN_ONLY_TOPICS, earlier=earlier, failure_by_meaning=meaning)
    assert match == TopicMatch(topic=Category.PERSISTENT_PROBLEM.value, words="a failure by meaning … everyone")
    # Told in words, or nothing said to persist, or the category off: the meaning is not asked.
    assert not failure_unworded("it still crashes", DEFAULT_HUMAN_ONLY_TOPICS, earlier=earlier)
    assert not failure_unworded("it crashes", DEFAULT_HUMAN_ONLY_TOPICS, earlier=[text])
    assert not failure_unworded(text, DEFAULT_HUMAN_ONLY_TOPICS, earlier=["the app crashes on start"])
    assert not failure_unworded("and on my phone?", DEFAULT_HUMAN_ONLY_TOPICS, earlier=earlier)
    assert not failure_unworded(text, ["billing dispute"], earlier=earlier)
    # Without persistence, a failure by meaning alone is a first report: the help center may know the fix.
    assert human_only_topic(earlier[0], DEFAULT_HUMAN_ONLY_TOPICS, failure_by_meaning="a failure by meaning") is None


def test_the_companys_own_name_reads_as_the_company() -> None:
    def topic(text: str) -> str | None:
        match = human_only_topic(text, DEFAULT_HUMAN_ONLY_TOPICS, company="Acme")
        return match.topic if match else None

    assert topic("we're going to sue Acme over this outage") == Category.LEGAL_OR_PRIVACY.value
    assert topic("I want everything about me wiped from Acme's servers") == Category.LEGAL_OR_PRIVACY.value
    assert topic("does Acme offer refunds?") is None
    assert human_only_topic("we're going to sue Acme over this", DEFAULT_HUMAN_ONLY_TOPICS) is None


def test_the_admin_switches_categories_off_and_adds_phrases() -> None:
    assert human_only_topic("I was charged twice", ["account security"]) is None
    assert human_only_topic("I was charged twice", ["Billing  Dispute"]) == TopicMatch(
        "Billing  Dispute", "charged twice"
    )
    topics = ["enterprise contract", "", 3, "  "]
    assert human_only_topic("question about our Enterprise\ncontract renewal", topics) == TopicMatch(
        "enterprise contract", "enterprise contract"
    )
    assert human_only_topic("our enterprise contracts", topics) is None  # whole words only


def test_topics_are_tried_in_the_admins_order() -> None:
    text = "someone hacked my account and charged my card twice"
    match = human_only_topic(text, ["billing dispute", "account security"])
    assert match is not None
    assert match.topic == "billing dispute"


def test_the_module_imports_without_django_or_the_project() -> None:
    root = Path(__file__).resolve().parents[2]
    program = textwrap.dedent(
        """
        import sys

        OTHERS = {"django", "escalation", "inbox", "segments", "halo"}

        class BlockOthers:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in OTHERS or name.startswith("agents.") and name != "agents.topics":
                    raise ImportError(name + " is blocked in this test")
                return None

        sys.meta_path.insert(0, BlockOthers())
        from agents.topics import DEFAULT_HUMAN_ONLY_TOPICS, human_only_topic
        assert human_only_topic("I was charged twice", DEFAULT_HUMAN_ONLY_TOPICS) is not None
        assert not [name for name in sys.modules if name.split(".")[0] in OTHERS]
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=root, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.stdout.strip() == "ok", result.stderr
