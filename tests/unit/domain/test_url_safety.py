"""The SSRF policy, pure: every refused target is judged from the URL and stubbed DNS answers
(no packet is ever sent, let alone to a refused address)."""

from __future__ import annotations

import ipaddress

import pytest
from meetings.domain.url_safety import (
    LOOPBACK_ONLY,
    TargetPolicy,
    UnsafeUrlError,
    checked_address,
    parse_target,
    refused_address,
)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text)


REFUSED_ADDRESSES = [
    "127.0.0.1", "127.255.255.254", "10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1",
    "100.64.0.1", "100.100.100.200", "169.254.169.254", "169.254.170.2", "192.0.0.192",
    "0.0.0.0", "255.255.255.255", "224.0.0.1", "240.0.0.1", "198.18.0.1", "192.0.2.10",
    "::", "::1", "fc00::1", "fd00:ec2::254", "fe80::1", "ff02::1", "2001:db8::1",
    "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.0.0.1", "::127.0.0.1",
    "64:ff9b::a9fe:a9fe", "64:ff9b::7f00:1", "64:ff9b:1::1", "2002:7f00:1::1",
    "2002:a00:1::1", "2001::1",
]  # fmt: skip
PUBLIC_ADDRESSES = ["93.184.215.14", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8",
                    "64:ff9b::808:808"]  # fmt: skip


@pytest.mark.parametrize("address", REFUSED_ADDRESSES)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert refused_address(_ip(address)) is not None


@pytest.mark.parametrize("address", PUBLIC_ADDRESSES)
def test_public_unicast_addresses_are_allowed(address: str) -> None:
    assert refused_address(_ip(address)) is None


def test_the_loopback_policy_allows_loopback_and_nothing_else() -> None:
    assert refused_address(_ip("127.0.0.1"), TargetPolicy.LOOPBACK) is None
    assert refused_address(_ip("127.3.2.1"), TargetPolicy.LOOPBACK) is None
    assert refused_address(_ip("::1"), TargetPolicy.LOOPBACK) is None
    for address in ("10.0.0.1", "169.254.169.254", "93.184.215.14", "2606:4700::1111"):
        assert LOOPBACK_ONLY in (refused_address(_ip(address), TargetPolicy.LOOPBACK) or "")


REFUSED_URLS = [
    "http://example.com/hook",  # not https
    "ftp://example.com/",
    "https://user:pass@example.com/",  # userinfo
    "https://example.com@127.0.0.1/",  # userinfo hiding the real host
    "https://2130706433/",  # decimal 127.0.0.1
    "https://0177.0.0.1/",  # octal
    "https://0x7f.0.0.1/",  # hex
    "https://0x7f000001/",
    "https://127.1/",  # short form
    "https://017700000001/",
    "https://127.0.0.1/",
    "https://[::1]/",
    "https://[::ffff:127.0.0.1]/",
    "https://[::ffff:7f00:1]/",
    "https://[fe80::1%25eth0]/",  # zone id
    "https://169.254.169.254/latest/meta-data/",
    "https://10.0.0.1/",
    "https://exa mple.com/",
    "https://-bad-.example.com/",
    "https:///path-only",
    "https://example.com:99999/",
    "https://example.com/#fragment",
    "https://ex\u00e4mple.com/",  # not ASCII
]


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_unsafe_url_shapes_are_refused(url: str) -> None:
    with pytest.raises(UnsafeUrlError):
        parse_target(url)


def test_loopback_urls_need_the_loopback_policy() -> None:
    for url in ("http://127.0.0.1:8080/hook", "http://[::1]:9/x", "http://localhost:9/x"):
        with pytest.raises(UnsafeUrlError):
            parse_target(url)
        assert parse_target(url, TargetPolicy.LOOPBACK).scheme == "http"
    assert parse_target("https://localhost/", TargetPolicy.LOOPBACK).scheme == "https"


@pytest.mark.parametrize(
    "url",
    ["https://example.com/", "http://example.com/", "https://93.184.215.14/", "http://10.0.0.1/",
     "https://localhost.example.com/", "http://2130706433/", "ftp://127.0.0.1/"],
)  # fmt: skip
def test_the_loopback_policy_refuses_every_other_host_by_its_shape(url: str) -> None:
    with pytest.raises(UnsafeUrlError):
        parse_target(url, TargetPolicy.LOOPBACK)


def test_under_the_loopback_policy_localhost_must_resolve_to_loopback_only() -> None:
    target = parse_target("http://localhost:9/", TargetPolicy.LOOPBACK)
    assert checked_address(target, [_ip("::1")], TargetPolicy.LOOPBACK) == _ip("::1")
    with pytest.raises(UnsafeUrlError):
        checked_address(target, [_ip("127.0.0.1"), _ip("10.0.0.1")], TargetPolicy.LOOPBACK)


def test_a_good_url_becomes_a_target() -> None:
    target = parse_target("https://Hooks.Example.com:8443/in?x=1")
    assert (target.scheme, target.host, target.port) == ("https", "hooks.example.com", 8443)
    assert target.path_and_query == "/in?x=1"
    assert target.host_header == "hooks.example.com:8443"
    assert parse_target("https://example.com").path_and_query == "/"
    assert parse_target("https://example.com").host_header == "example.com"
    assert parse_target("https://1.1.1.1/x").literal == _ip("1.1.1.1")


@pytest.mark.parametrize(
    "answers",
    [
        ["127.0.0.1"],
        ["93.184.215.14", "10.0.0.5"],  # one bad answer refuses the lot
        ["169.254.169.254"],
        ["::ffff:192.168.0.1"],
        ["fd00:ec2::254"],
        [],
    ],
)
def test_a_name_resolving_to_any_refused_address_is_refused(answers: list[str]) -> None:
    target = parse_target("https://hooks.example.com/in")
    with pytest.raises(UnsafeUrlError):
        checked_address(target, [_ip(a) for a in answers])


def test_the_address_to_connect_to_is_one_that_was_checked() -> None:
    target = parse_target("https://hooks.example.com/in")
    answers = [_ip("93.184.215.14"), _ip("2606:4700::1111")]
    assert checked_address(target, answers) == answers[0]
