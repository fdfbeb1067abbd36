"""Reports > Exports in a real browser: from the filtered list to the export page, the export started, its
progress polled by HTMX until the download link appears (the build run here, as the worker would)."""

from __future__ import annotations

import pytest
from conftest import browser_login

from tickets.exports import services as exports
from tickets.exports.models import Export

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_manager_exports_the_filtered_list(live_server, page, world, screenshot, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    browser_login(page, live_server.url, world.manager.email)
    page.goto(f"{live_server.url}/tickets/?status=new")
    page.get_by_text("Exporter cette liste (CSV)").click()
    page.wait_for_url("**/reports/exports/?status=new")
    page.get_by_text("il en reste").wait_for()
    screenshot(page, "exports-page")
    page.get_by_role("button", name="Lancer l'export").click()
    page.locator("progress.export-progress").wait_for()
    exports.build(Export.objects.get(organization=world.org).pk)  # what the worker does
    page.get_by_role("link", name="Télécharger").wait_for(timeout=10_000)  # HTMX polling brought it
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "exports-page-phone", full_page=True)
    with page.expect_download() as download:
        page.get_by_role("link", name="Télécharger").click()
    assert download.value.suggested_filename.endswith(".csv")
