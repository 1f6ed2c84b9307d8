"""Marketer text in several languages as one box per store language, never a JSON blob.

``TranslationsField`` edits a ``{"pl": "...", "pt": "..."}`` JSON value (e.g.
``Step.subject_translations``) as one labelled text box per language of the store's
``settings.LANGUAGES``: the default language (``settings.LANGUAGE_CODE``) first, languages the
store does not offer never shown. Empty boxes are left out of the stored dict; keys the form
does not show (a language the store dropped) are kept as they were (``keep_hidden``).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

__all__ = ["store_languages", "TranslationsWidget", "TranslationsField", "keep_hidden"]


def store_languages(exclude: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """``(code, name)`` of the store's ``LANGUAGES``, the default language first, lower-case codes."""
    default = settings.LANGUAGE_CODE.lower()
    languages = [(str(code).lower(), str(name)) for code, name in settings.LANGUAGES if str(code).lower() not in exclude]
    return sorted(languages, key=lambda item: item[0] != default)


class TranslationsWidget(forms.MultiWidget):
    """One text input per language, named ``<field>_<code>`` and labelled "Polish (pl)"."""

    template_name = "admin/personalize/widgets/translations.html"

    def __init__(self, languages: list[tuple[str, str]], attrs: dict[str, Any] | None = None) -> None:
        self.languages = languages
        widgets = {code: forms.TextInput(attrs={"class": "vTextField", **(attrs or {})}) for code, _name in languages}
        super().__init__(widgets, attrs)

    def decompress(self, value: Any) -> list[str]:
        value = value if isinstance(value, dict) else {}
        return [str(value.get(code) or "") for code, _name in self.languages]

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        for subwidget, (code, language) in zip(context["widget"]["subwidgets"], self.languages):
            subwidget["language_code"] = code
            subwidget["language_name"] = language
        return context


class TranslationsField(forms.MultiValueField):
    """A ``{language: text}`` dict typed as one optional box per store language."""

    def __init__(
        self, *, exclude: tuple[str, ...] = (), max_length: int | None = None, **kwargs: Any
    ) -> None:
        self.languages = store_languages(exclude)
        fields = tuple(forms.CharField(required=False, max_length=max_length) for _code in self.languages)
        for key in ("encoder", "decoder", "empty_value"):
            kwargs.pop(key, None)
        kwargs.setdefault("widget", TranslationsWidget(self.languages))
        kwargs.setdefault("help_text", _("Leave a language empty to use the default text (translated by the shipped catalogue when it has it)."))
        super().__init__(fields, require_all_fields=False, required=False, **kwargs)

    @property
    def codes(self) -> set[str]:
        return {code for code, _name in self.languages}

    def compress(self, data_list: list[Any]) -> dict[str, str]:
        return {code: text.strip() for (code, _name), text in zip(self.languages, data_list or []) if text and text.strip()}

    def prepare_value(self, value: Any) -> Any:
        return value if isinstance(value, (dict, list)) else {}

    def has_changed(self, initial: Any, data: Any) -> bool:
        before = {k: v for k, v in (initial or {}).items() if k in self.codes} if isinstance(initial, dict) else {}
        after = self.compress(data if isinstance(data, list) else self.widget.decompress(data))
        return before != after


def keep_hidden(field: TranslationsField, edited: dict[str, str], stored: Any) -> dict[str, str]:
    """``edited`` plus the stored keys the field does not show (languages the store no longer offers)."""
    stored = stored if isinstance(stored, dict) else {}
    return {**{k: v for k, v in stored.items() if k not in field.codes}, **edited}
