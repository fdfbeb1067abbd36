"""Template filters about people, built into every template (settings.TEMPLATES ``builtins``): no ``{% load %}``."""

from django import template

from lumiodesk.models import user_display_name

register = template.Library()


@register.filter
def display_name(user) -> str:
    """``{{ member.user|display_name }}``: how the product names an account everywhere (lumiodesk.models
    ``user_display_name``: the full name, else the email); empty for no one."""
    return user_display_name(user) if user else ""
