"""``display_name``: one way to name an account in every template, built in (no ``{% load %}``)."""

import pytest
from django.template import Context, Template
from factories import UserFactory

pytestmark = pytest.mark.django_db


def test_display_name_is_the_full_name_else_the_email_else_nothing():
    template = Template("[{{ a|display_name }}] [{{ b|display_name }}] [{{ c|display_name }}]")
    named = UserFactory(first_name="Léa", last_name="Martin", email="lea@example.test")
    unnamed = UserFactory(first_name="", last_name="", email="sans.nom@example.test")
    assert template.render(Context({"a": named, "b": unnamed, "c": None})) == (
        "[Léa Martin] [sans.nom@example.test] []")
