"""The meetings console as a person uses it (docs/console.md), in headless Chromium against the
local stack: sign in, create, two users join, their simulated clients connect and go, the
world clock passes Chime's 5-minute rule, and the meeting reads ENDED with the inferred reason,
the rule behind it and what Chime really did — each main screen checked with axe-core."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, Route, expect

from local.stack import LocalStack
from tests.browser.conftest import VIEWPORT
from tests.localstack_support import events_in

# Generous: a refresh runs every 1.5 s, and events take their way through queues and workers.
expect.set_options(timeout=20_000)
SERIOUS = ("serious", "critical")
PHONE = {"width": 390, "height": 844}
NO_SIDEWAYS_SCROLLING = "() => document.documentElement.scrollWidth <= window.innerWidth"
CLEANUP_ATTEMPTS = 5


def assert_accessible(page: Page, axe_script: Path) -> None:
    """No serious or critical axe-core violation on the page as it stands."""
    page.add_script_tag(path=str(axe_script))
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    found = [
        (violation["id"], violation["impact"], [node["target"] for node in violation["nodes"]][:3])
        for violation in result["violations"]
        if violation["impact"] in SERIOUS
    ]
    assert found == []


def sign_in(page: Page, url: str, user_id: str) -> None:
    page.goto(url)
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("User id").fill(user_id)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Meetings", exact=True)).to_be_visible()


def roster_row(page: Page, user_id: str) -> Any:
    return page.locator(f'tr[data-user="{user_id}"]')


def test_a_meeting_from_sign_in_to_its_inferred_end(
    page: Page,
    new_context: Any,
    local_stack: LocalStack,
    unique: Any,
    axe_script: Path,
    shoot: Any,
) -> None:
    console = local_stack.console_url
    host, bob, carol, room = unique("alice"), unique("bob"), unique("carol"), unique("standup")

    page.goto(console)
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert_accessible(page, axe_script)
    shoot(page, "sign-in")
    sign_in(page, console, host)
    expect(page.get_by_text(f"Signed in as {host}")).to_be_visible()

    page.get_by_label("Room name").fill(room)
    page.get_by_text("More options").click()
    page.get_by_label("Max attendees").fill("10")
    page.get_by_label("Tags").fill("team=sales")
    page.get_by_role("button", name="Create meeting").click()
    expect(page.get_by_role("heading", name=f"Meeting {room}")).to_be_visible()
    expect(page.locator(".facts").first).to_contain_text(re.compile(r"Max attendees\s*10"))
    meeting_id = page.url.rsplit("/", 1)[-1]

    # Bob signs in in his own browser and joins by the meeting's id.
    bob_page = new_context().new_page()
    sign_in(bob_page, console, bob)
    bob_page.get_by_label("Meeting id").fill(meeting_id)
    bob_page.get_by_role("button", name="Join", exact=True).click()
    expect(bob_page.get_by_role("heading", name=f"Meeting {room}")).to_be_visible()
    expect(roster_row(bob_page, bob)).to_contain_text("PROVISIONED")

    # The host sees Bob arrive without a reload, and lets Carol join as a simulated user.
    expect(roster_row(page, bob)).to_contain_text("PROVISIONED")
    page.get_by_label("User id").fill(carol)
    page.get_by_role("button", name="Join as this user").click()
    expect(roster_row(page, carol)).to_contain_text("PROVISIONED")

    page.get_by_role("button", name=f"Connect {bob}").click()
    page.get_by_role("button", name=f"Connect {carol}").click()
    expect(roster_row(page, bob)).to_contain_text("CONNECTED")
    expect(roster_row(page, carol)).to_contain_text("CONNECTED")
    expect(page.locator(".facts").first).to_contain_text("2 / 2 / 2")
    expect(roster_row(bob_page, carol)).to_contain_text("CONNECTED")  # live on Bob's page too
    expect(page.get_by_text("chime:AttendeeJoined").first).to_be_visible()
    assert_accessible(page, axe_script)
    shoot(page, "live-roster")

    page.get_by_role("button", name=f"Leave {bob}").click()
    page.get_by_role("button", name=f"Drop {carol}").click()
    expect(roster_row(page, bob)).to_contain_text("LEFT")
    expect(roster_row(page, carol)).to_contain_text("DROPPED")

    # Nobody connected: past 5 minutes Chime ends it; the reason waits for settlement.
    page.get_by_role("button", name="Advance 5 min 1 s").click()
    expect(page.locator(".facts").first).to_contain_text("ENDED")
    expect(page.get_by_test_id("end-reason")).to_have_text("unknown")
    expect(page.get_by_test_id("truth-reason")).to_have_text("no_audio_5min")

    # The developer lets the events land, passes the settle window and runs the cleanup.
    assert events_in(local_stack)
    page.get_by_role("button", name="Advance 2 min 1 s (settle window)").click()
    reason = page.get_by_test_id("end-reason")
    for _ in range(CLEANUP_ATTEMPTS):
        page.get_by_role("button", name="Run cleanup now").click()
        try:
            expect(reason).to_have_text("no_audio_5min", timeout=5_000)
            break
        except AssertionError:
            continue
    expect(reason).to_have_text("no_audio_5min")
    expect(page.get_by_test_id("end-rule")).to_contain_text("no audio connection for 5 minutes")
    checks = page.get_by_role("table", name=re.compile("auto-end rules"))
    expect(checks.get_by_role("row", name=re.compile("^no_audio_5min"))).to_contain_text("holds")
    expect(page.get_by_text("agrees")).to_be_visible()
    expect(page.get_by_text("meeting.ended").first).to_be_visible()
    assert_accessible(page, axe_script)
    shoot(page, "ended-meeting")
    page.set_viewport_size(PHONE)
    assert page.evaluate(NO_SIDEWAYS_SCROLLING)
    shoot(page, "ended-meeting-phone")
    page.set_viewport_size(VIEWPORT)

    page.get_by_role("link", name="All meetings").click()
    row = page.get_by_role("row", name=re.compile(room))
    expect(row).to_contain_text("ENDED")
    expect(row).to_contain_text("no_audio_5min")
    assert_accessible(page, axe_script)
    shoot(page, "meetings")


def test_an_admin_sees_every_open_meeting_and_the_webhook_deliveries(
    page: Page, api: Any, local_stack: LocalStack, unique: Any
) -> None:
    admin, room = unique("root"), unique("elsewhere")
    other = api.token(unique("erin"))
    created = api.request("POST", "/meetings", token=other, body={"externalMeetingId": room})
    assert created.status == 201
    root = api.token(admin, groups=["admins"])
    # Loopback port 9 refuses: the ping's attempt is recorded as failed.
    hook = {"url": "http://127.0.0.1:9/hook", "eventTypes": ["meeting.ended"]}
    webhook = api.request("POST", "/webhooks", token=root, body=hook).json["webhook"]
    ping = api.request("POST", f"/webhooks/{webhook['webhookId']}/ping", token=root)
    assert ping.status == 202

    page.goto(local_stack.console_url)
    page.get_by_label("User id").fill(admin)
    page.get_by_label("Admin (member of the admins group)").check()
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text(f"Signed in as {admin} (admin)")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile(room))).to_have_count(0)
    page.get_by_label("Every open meeting (admin)").check()
    page.get_by_role("link", name=room).click()
    expect(page.get_by_role("heading", name=f"Meeting {room}")).to_be_visible()
    deliveries = page.get_by_role("table", name=re.compile("webhook deliveries"))
    expect(deliveries.get_by_role("row", name=re.compile("webhook.ping"))).to_be_visible()


def test_the_page_works_under_its_content_security_policy_by_keyboard_at_phone_width(
    browser: Any, local_stack: LocalStack, unique: Any
) -> None:
    """Without the tests' CSP bypass, with the keyboard only; a refused token signs out."""
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    answer = page.goto(local_stack.console_url)
    assert answer is not None and "script-src 'self'" in answer.headers["content-security-policy"]
    expect(page.get_by_role("heading", name="Sign in")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("User id")).to_be_focused()
    page.keyboard.press("Control+a")
    page.keyboard.type(unique("dana"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Meetings", exact=True)).to_be_focused()
    assert page.evaluate(NO_SIDEWAYS_SCROLLING)
    # A token the API refuses (here: forged) leads back to the sign-in screen.
    page.evaluate(
        "() => sessionStorage.setItem('meetings-console.token',"
        " 'e30.' + btoa(JSON.stringify({sub: 'mallory', exp: 4102444800})) + '.forged')"
    )
    page.reload()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_text("sign in again")).to_be_visible()
    context.close()


# The hosted UI's endpoints, answered by the test itself (page.route): nothing leaves the browser.
HOSTED_UI = "http://127.0.0.1:9/oauth2"


def test_the_hosted_sign_in_uses_pkce_and_checks_its_state(
    page: Page, api: Any, local_stack: LocalStack, unique: Any
) -> None:
    """Deployed, the page signs in with the user pool's hosted UI: authorization code, PKCE
    (S256), a state it checks, the code exchanged for the token the API then accepts."""
    console = local_stack.console_url
    user = unique("frank")
    config = {
        "apiUrl": "",
        "simulation": False,
        "auth": {
            "kind": "cognito",
            "authorizeUrl": f"{HOSTED_UI}/authorize",
            "tokenUrl": f"{HOSTED_UI}/token",
            "logoutUrl": f"{HOSTED_UI}/logout",
            "clientId": "console-client",
            "redirectUri": console,
            "scope": "openid",
        },
    }
    asked: dict[str, str] = {}
    exchanged: dict[str, str] = {}
    signed_out: list[str] = []
    tamper = {"state": False}

    def authorize(route: Route) -> None:
        query = dict(re.findall(r"([^?&=]+)=([^&]*)", route.request.url))
        asked.update(query)
        state = "someone-else" if tamper["state"] else query["state"]
        route.fulfill(status=302, headers={"location": f"{console}?code=the-code&state={state}"})

    def token(route: Route) -> None:
        exchanged.update(dict(re.findall(r"([^&=]+)=([^&]*)", route.request.post_data or "")))
        route.fulfill(
            status=200,
            headers={"access-control-allow-origin": "*"},
            json={"access_token": api.token(user), "token_type": "Bearer", "expires_in": 3600},
        )

    page.route("**/console/config.json", lambda route: route.fulfill(json=config))
    page.route(f"{HOSTED_UI}/authorize?*", authorize)
    page.route(f"{HOSTED_UI}/token", token)

    def logout(route: Route) -> None:
        signed_out.append(route.request.url)
        route.fulfill(status=302, headers={"location": console})

    page.route(f"{HOSTED_UI}/logout?*", logout)
    page.goto(console)
    page.get_by_role("button", name="Sign in with the user pool").click()
    expect(page.get_by_text(f"Signed in as {user}")).to_be_visible()
    assert (asked["response_type"], asked["code_challenge_method"]) == ("code", "S256")
    assert asked["client_id"] == "console-client" and len(asked["state"]) >= 16
    assert (exchanged["grant_type"], exchanged["code"]) == ("authorization_code", "the-code")
    digest = hashlib.sha256(exchanged["code_verifier"].encode()).digest()
    assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == asked["code_challenge"]
    assert "code=" not in page.url  # the code is taken off the address

    # An answer whose state this browser did not ask for is refused.
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert signed_out and "client_id=console-client" in signed_out[0]
    tamper["state"] = True
    page.get_by_role("button", name="Sign in with the user pool").click()
    expect(page.get_by_text("does not match this browser's request")).to_be_visible()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
