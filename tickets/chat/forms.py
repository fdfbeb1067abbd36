from django import forms
from django.utils.translation import gettext_lazy as _


class WidgetForm(forms.Form):
    is_enabled = forms.BooleanField(label=_("Widget activé"), required=False)
    allowed_domains = forms.CharField(
        label=_("Domaines autorisés"), required=False, widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Un domaine par ligne : exemple.fr, *.exemple.fr (tous les sous-domaines), localhost:8000. "
                    "Sans port, tous les ports sont acceptés."),
    )

    def domain_lines(self) -> list[str]:
        return (self.cleaned_data.get("allowed_domains") or "").splitlines()


class BrandingForm(forms.Form):
    color = forms.CharField(label=_("Couleur principale"), required=False, max_length=7,
                            widget=forms.TextInput(attrs={"type": "color"}))
    welcome_message = forms.CharField(label=_("Message d'accueil"), required=False, max_length=300,
                                      widget=forms.Textarea(attrs={"rows": 2}))
    logo = forms.FileField(label=_("Logo (PNG, JPEG ou WebP, 512 Ko au plus)"), required=False)
    logo_url = forms.URLField(label=_("… ou adresse d'un logo (https://)"), required=False, max_length=500,
                              assume_scheme="https")
    remove_logo = forms.BooleanField(label=_("Retirer le logo envoyé"), required=False)
