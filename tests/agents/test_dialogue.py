"""How the built-in responder reads a conversation (``agents/dialogue.py``): small talk, follow-ups and the
query a follow-up is searched with."""

import pytest

from agents.dialogue import SmallTalk, is_follow_up, search_query, small_talk


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("hi", SmallTalk.GREETING),
        ("Hello there!", SmallTalk.GREETING),
        ("thanks, that worked!", SmallTalk.THANKS),
        ("ok got it, thanks", SmallTalk.THANKS),
        ("perfect", SmallTalk.THANKS),
        ("thanks, they work now", SmallTalk.THANKS),
        ("thanks, that's what I needed", SmallTalk.THANKS),
        ("good to know, thanks", SmallTalk.THANKS),
        ("noted, will do", SmallTalk.THANKS),
        ("merci", SmallTalk.THANKS),
        ("vale, muchas gracias", SmallTalk.THANKS),
        ("thanks, that sorted it out", SmallTalk.THANKS),
        ("perfect, thats exactly what i needed", SmallTalk.THANKS),
        ("Thanks, closing the ticket on our side.", SmallTalk.THANKS),
        ("Thank you, that's very helpful.", SmallTalk.THANKS),
        ("thank you! that's all for today", SmallTalk.THANKS),
        ("vielen Dank!", SmallTalk.THANKS),
        ("d'accord", SmallTalk.ACKNOWLEDGE),
        ("thanks, bye", SmallTalk.GOODBYE),
        ("lol ok bye", SmallTalk.GOODBYE),
        ("anyway have a good one", SmallTalk.GOODBYE),
        ("cool, that'll save me a lot of grief. bye", SmallTalk.GOODBYE),
        ("how are you?", SmallTalk.CHITCHAT),
        ("hi, how are you", SmallTalk.CHITCHAT),
        ("tell me a joke", SmallTalk.CHITCHAT),
        ("what's your name?", SmallTalk.CHITCHAT),
        ("hey, how's your day going?", SmallTalk.CHITCHAT),
    ],
)
def test_small_talk_is_recognised(text: str, kind: SmallTalk) -> None:
    assert small_talk(text) == kind


@pytest.mark.parametrize(
    "text",
    [
        "thanks, but how do I mute a topic?",
        "hi, can I schedule a message?",
        "ok so how do I export my data",
        "good morning, my messages are not sending",
        "thanks, done with the setup, now how do I invite people",
        "thanks, but the ticket is closed and I still can't log in",
        "dark mode?",
        "",
        "?!",
    ],
)
def test_a_message_that_asks_more_is_not_small_talk(text: str) -> None:
    assert small_talk(text) is None


@pytest.mark.parametrize(
    "text",
    ["and on mobile?", "what about annual plans?", "how do I turn that off?", "can I undo it?", "same for Android"],
)
def test_follow_ups(text: str) -> None:
    assert is_follow_up(text)


@pytest.mark.parametrize(
    "text",
    [
        "how do I rename a topic?",
        "I was charged twice this month",  # "this" is a determiner here
        "are there keyboard shortcuts?",
        "how do I make sure that everyone in my organization gets notified when a new channel is created and "
        "it is public",  # too long to lean on the question before
    ],
)
def test_standalone_questions(text: str) -> None:
    assert not is_follow_up(text)


def test_a_follow_up_is_searched_with_the_question_it_follows() -> None:
    earlier = ["#random is too noisy, how do I stop notifications for it?", "thanks!", "and on mobile?"]
    assert (
        search_query("and on desktop?", earlier)
        == "#random is too noisy, how do I stop notifications for it? and on desktop?"
    )
    assert search_query("how do I rename a topic?", earlier) == "how do I rename a topic?"
    assert search_query("and on mobile?", []) == "and on mobile?"
    assert search_query("and on mobile?", ["hi", "thanks"]) == "and on mobile?"
