"""A business customer's admin takes the company's data, in a real browser: starts the
export on /customer, watches the progress bar htmx polls while the job runs, and
downloads the ZIP, which holds the company's rows and none of another company's.
Each state of the page passes axe-core. The rules are tested through the test client
in test_customer_exports.py."""
import io
import json
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.conftest import TEST_PASSWORD
from tests.support.browser import assert_accessible, htmx_exchange, sign_in
from tests.test_customer_exports import acme  # noqa: F401  (the two companies)

MAX_POLLS = 500  # a hang guard on the number of exchanges, not a time


@pytest.mark.browser
def test_the_admin_exports_the_companys_data_and_downloads_the_zip(page, app, live_server, job_worker, acme):  # noqa: F811
    sign_in(page, acme["acme-admin"].email, TEST_PASSWORD)
    page.get_by_role("link", name="Company", exact=True).click()
    expect(page.get_by_role("heading", name="Export all our data")).to_be_visible()
    assert_accessible(page)

    with htmx_exchange(page, "/customer/export"):
        page.get_by_role("button", name="Export all our data").click()
    bar = page.get_by_role("progressbar")
    expect(bar).to_be_visible()  # the answer to the click: the job is queued
    assert 0 <= int(bar.get_attribute("aria-valuenow")) <= 100
    assert_accessible(page)

    download_link = page.get_by_role("link", name="Download our data (ZIP)")
    for _ in range(MAX_POLLS):  # each poll is one exchange; wait for them, never for a time
        if download_link.count():
            break
        with htmx_exchange(page, "/customer/export/status"):
            pass
    expect(download_link).to_be_visible()
    expect(page.get_by_role("progressbar")).to_have_count(0)
    expect(page.get_by_text("Acme's export is ready")).to_be_visible()
    assert_accessible(page)

    with page.expect_download() as download:
        download_link.click()
    archive = zipfile.ZipFile(io.BytesIO(Path(download.value.path()).read_bytes()))
    data = json.loads(archive.read("data.json"))
    manifest = json.loads(archive.read("manifest.json"))
    assert data["company"] == manifest["company"] == "Acme"
    assert sorted(r["name"] for r in data["categories"]["lead"]["rows"]) == sorted(
        f"{n} lead {i}" for n in ("acme-ann", "acme-bob") for i in range(3))
    assert "lead.csv" in archive.namelist() and "schema.json" in archive.namelist()
    assert "globex" not in json.dumps(data).lower()
