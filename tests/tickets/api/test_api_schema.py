"""The OpenAPI schema and its documentation page, served by LumioDesk itself (no CDN)."""

from __future__ import annotations

import pytest
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db


def test_the_schema_describes_the_endpoints_and_the_bearer_key(client):
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    assert {"/api/v1/tickets/", "/api/v1/tickets/{number}/replies/", "/api/v1/articles/{id}/"} <= set(schema["paths"])
    assert schema["components"]["securitySchemes"]["ApiKey"] == {"type": "http", "scheme": "bearer"}


def test_the_documentation_page_loads_its_files_from_our_static_files(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower() and "https://" not in html.split("<body")[0]
    for name in ("swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css"):
        assert finders.find(f"drf_spectacular_sidecar/swagger-ui-dist/{name}"), name  # collected with ours


def test_an_unknown_api_url_is_a_json_404(client):
    response = client.get("/api/v2/nothing/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
