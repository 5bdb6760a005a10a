"""Forms of the staff pages: the login form takes an email, matched without regard to case."""

from django.contrib.auth.forms import AuthenticationForm


class EmailAuthenticationForm(AuthenticationForm):
    """Staff log in with their email, which is their username, stored in lower case."""

    def clean_username(self) -> str:
        return str(self.cleaned_data.get("username") or "").strip().lower()
