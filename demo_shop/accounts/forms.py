from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm
from django.utils.translation import gettext_lazy as _


class SignupForm(UserCreationForm):
    first_name = forms.CharField(label=_("First name"), max_length=150)
    email = forms.EmailField(label=_("Email"))
    # Unticked: marketing email needs an opt-in, for accounts too (personalize.set_email_consent).
    email_consent = forms.BooleanField(label=_("Send me cart reminders and offers by email"), required=False)

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "first_name", "email")

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if get_user_model().objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(_("An account with this email already exists."))
        return email
