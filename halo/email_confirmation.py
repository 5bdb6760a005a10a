"""The signed link that confirms an address a visitor typed in the chat.

``email_confirmation_token`` signs (``django.core.signing``, salted for this purpose) the contact's id and the
address; ``email_confirmation_read`` gives them back while the link is younger than
``EMAIL_CONFIRM_MAX_AGE_DAYS`` (3 days by default), and tells an expired link from a forged one. Nothing is
stored: the contact's ``unverified_email`` must still be the signed address when the link is used
(``halo.services.contact_email_verify``), so a link to an address the visitor has since replaced confirms
nothing.
"""

import enum
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing

from halo.models import Contact

CONFIRM_SALT = "halo.contact-email-confirm"


class ConfirmProblem(enum.StrEnum):
    EXPIRED = "expired"
    INVALID = "invalid"


class ConfirmRefused(Exception):
    def __init__(self, problem: ConfirmProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


@dataclass(frozen=True)
class EmailClaim:
    contact_id: int
    email: str


def email_confirmation_token(*, contact: Contact, email: str) -> str:
    return signing.dumps({"contact": contact.pk, "email": email}, salt=CONFIRM_SALT)


def email_confirmation_read(token: str) -> EmailClaim:
    """The contact and address a confirmation link names; ``ConfirmRefused`` if expired or not ours."""
    try:
        data = signing.loads(token, salt=CONFIRM_SALT, max_age=timedelta(days=settings.EMAIL_CONFIRM_MAX_AGE_DAYS))
    except signing.SignatureExpired:
        raise ConfirmRefused(ConfirmProblem.EXPIRED) from None
    except signing.BadSignature:
        raise ConfirmRefused(ConfirmProblem.INVALID) from None
    contact_id = data.get("contact") if isinstance(data, dict) else None
    email = data.get("email") if isinstance(data, dict) else None
    if not isinstance(contact_id, int) or isinstance(contact_id, bool) or not isinstance(email, str):
        raise ConfirmRefused(ConfirmProblem.INVALID)
    return EmailClaim(contact_id=contact_id, email=email)
