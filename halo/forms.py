"""Forms of the staff pages: the login form takes an email, matched without regard to case.

``login_username`` is the same normalisation for django-axes (``AXES_USERNAME_CALLABLE``), so failed logins
of one account count together however its email is typed (``Maya@ACME.test``, `` maya@acme.test``), on the
staff login page and on the admin's.
"""

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.forms.fields import InvalidJSONInput
from django.http import HttpRequest

from halo.text import SURROGATE_MESSAGE, has_lone_surrogate


def normalise_email(value: object) -> str:
    return str(value or "").strip().lower()


def login_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str:
    """The account a login attempt is for (django-axes): the email as typed, normalised."""
    if credentials and credentials.get("username"):
        return normalise_email(credentials["username"])
    return normalise_email(request.POST.get("username", "")) if request is not None else ""


class EmailAuthenticationForm(AuthenticationForm):
    """Staff log in with their email, which is their username, stored in lower case."""

    def clean_username(self) -> str:
        return normalise_email(self.cleaned_data.get("username"))


class PhraseListField(forms.CharField):
    """A list of phrases edited as text, one phrase per line (blank lines are ignored): how the admin edits
    escalation and handoff phrases and an agent's human-only topics."""

    widget = forms.Textarea(attrs={"rows": 6, "cols": 60})

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return "\n".join(str(item) for item in value)
        return value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        if isinstance(value, list):
            return [str(item).strip() for item in value if str(item).strip()]
        text = super().to_python(value) or ""
        return [line.strip() for line in text.splitlines() if line.strip()]


class SurrogateFreeJSONField(forms.JSONField):
    """A JSON form field (the admin's) that refuses a lone surrogate, and shows the text as typed again
    (``"\\udfff"``, six ASCII characters) rather than the decoded character, which no page can encode."""

    def to_python(self, value: Any) -> Any:
        converted = super().to_python(value)
        if has_lone_surrogate(converted):
            raise forms.ValidationError(SURROGATE_MESSAGE, code="surrogate")
        return converted

    def bound_data(self, data: Any, initial: Any) -> Any:
        value = super().bound_data(data, initial)
        if isinstance(data, str) and has_lone_surrogate(value):
            return InvalidJSONInput(data)
        return value


class SurrogateFreeForm(forms.BaseForm):
    """Refuses a cleaned value holding a lone surrogate (``halo.text``) with a field error. A form body
    cannot carry one (Django decodes it with replacement characters), but a JSON field of the form can
    (``{"plan": "\\udfff"}`` typed into the admin's custom fields)."""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for name, value in list(cleaned.items()):
            if has_lone_surrogate(value):
                self.add_error(name, SURROGATE_MESSAGE)
        return cleaned
