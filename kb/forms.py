from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from .models import Audience, CollectionVisibility


class ArticleForm(forms.Form):
    title = forms.CharField(label=_("Titre"), max_length=200)
    slug = forms.SlugField(label=_("Identifiant (URL)"), max_length=120, required=False,
                           help_text=_("Laissé vide : calculé depuis le titre."))
    collection = forms.TypedChoiceField(label=_("Collection"), coerce=int, required=False, empty_value=None)
    language = forms.ChoiceField(label=_("Langue"), choices=settings.LANGUAGES)
    audience = forms.ChoiceField(label=_("Audience"), choices=Audience.choices, initial=Audience.PUBLIC)
    body = forms.CharField(
        label=_("Texte (Markdown)"), required=False, widget=forms.Textarea(attrs={"rows": 18}),
        help_text=_("Titres avec ##, listes avec - ou 1., liens [texte](https://…). Chaque paragraphe est "
                    "un passage que l'assistant peut citer."),
    )

    def __init__(self, *args, collections=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["collection"].choices = [("", _("Aucune"))] + [(c.pk, c.name) for c in collections]


class CollectionForm(forms.Form):
    name = forms.CharField(label=_("Nom"), max_length=120)
    description = forms.CharField(label=_("Description"), max_length=300, required=False)
    visibility = forms.ChoiceField(label=_("Visibilité"), choices=CollectionVisibility.choices)
    position = forms.IntegerField(label=_("Position"), min_value=0, max_value=1000, required=False)


class QuestionForm(forms.Form):
    q = forms.CharField(max_length=500, required=False, strip=True)
