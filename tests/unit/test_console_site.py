"""The local stack's console files (local/console_site.py): only what lies in the console's
folder, with the security headers, and the configuration generated for the local stack."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from local.apigw import HttpResponse
from local.console_site import CONSOLE_ROOT, ConsoleSite


@pytest.fixture
def site(tmp_path: Path) -> ConsoleSite:
    root = tmp_path / "console"
    (root / "js").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html>")
    (root / "js" / "main.js").write_text("export {};")
    (tmp_path / "secret.txt").write_text("not served")
    return ConsoleSite(root)


def headers(answer: HttpResponse) -> dict[str, str]:
    return dict(answer.headers)


def test_serves_the_page_its_modules_and_the_local_configuration(site: ConsoleSite) -> None:
    index = site.respond("GET", "/console/")
    assert (index.status, index.body) == (200, b"<!doctype html>")
    assert headers(index)["content-type"] == "text/html; charset=utf-8"
    assert "script-src 'self'" in headers(index)["content-security-policy"]
    assert headers(index)["x-content-type-options"] == "nosniff"
    module = site.respond("GET", "/console/js/main.js")
    assert headers(module)["content-type"] == "text/javascript; charset=utf-8"
    config = site.respond("GET", "/console/config.json")
    assert json.loads(config.body) == {
        "apiUrl": "",
        "auth": {"kind": "local"},
        "simulation": True,
    }


@pytest.mark.parametrize(
    "path", ["/console/../secret.txt", "/console/js/../../secret.txt", "/console/nope.js"]
)
def test_nothing_outside_the_folder_or_missing_is_served(site: ConsoleSite, path: str) -> None:
    answer = site.respond("GET", path)
    assert answer.status == 404 and b"not served" not in answer.body


def test_the_bare_path_redirects_head_has_no_body_and_writes_are_refused(
    site: ConsoleSite,
) -> None:
    redirect = site.respond("GET", "/console")
    assert (redirect.status, headers(redirect)["location"]) == (301, "/console/")
    head = site.respond("HEAD", "/console/index.html")
    assert (head.status, head.body) == (200, b"")
    refused = site.respond("POST", "/console/index.html")
    assert (refused.status, headers(refused)["allow"]) == (405, "GET, HEAD")
    assert ConsoleSite.serves("/console/x") and not ConsoleSite.serves("/consoles")


def test_the_repository_holds_the_console_it_serves() -> None:
    answer = ConsoleSite().respond("GET", "/console/")
    assert answer.status == 200 and b'src="js/main.js"' in answer.body
    assert (CONSOLE_ROOT / "js" / "main.js").is_file()
