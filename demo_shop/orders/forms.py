from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

DECLINED_CARD = "4000000000000002"


class CheckoutForm(forms.Form):
    email = forms.EmailField(label=_("Email"), help_text=_("We send your receipt here."))
    email_consent = forms.BooleanField(
        label=_("Email me about my cart and offers (you can unsubscribe with one click)"), required=False
    )
    name = forms.CharField(label=_("Full name"), max_length=120)
    address = forms.CharField(label=_("Address"), max_length=255)
    discount_code = forms.CharField(label=_("Discount code"), max_length=64, required=False)
    card_number = forms.CharField(
        label=_("Card number"),
        max_length=23,
        initial="4242 4242 4242 4242",
        help_text=_("A fake payment: any number works except 4000 0000 0000 0002, which is declined."),
    )

    def clean_card_number(self) -> str:
        digits = "".join(ch for ch in self.cleaned_data["card_number"] if not ch.isspace() and ch != "-")
        if not digits.isdigit() or not 12 <= len(digits) <= 19:
            raise forms.ValidationError(_("Enter a card number of 12 to 19 digits."))
        return digits

    def clean_discount_code(self) -> str:
        return self.cleaned_data["discount_code"].strip()


class QuantityForm(forms.Form):
    quantity = forms.IntegerField(min_value=0, max_value=99)
