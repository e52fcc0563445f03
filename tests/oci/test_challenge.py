"""WWW-Authenticate parsing has one home (oci/challenge.py); the client and the mirror's
pull-through read challenges with it."""

from __future__ import annotations

from flakymirror.client import parse_challenges as client_parse
from flakymirror.mirror import http_upstream
from flakymirror.oci.challenge import Challenge, parse_challenges


def test_client_and_mirror_share_the_parser():
    assert client_parse is parse_challenges
    assert http_upstream.parse_challenges is parse_challenges


def test_unquoted_and_escaped_parameters():
    got = parse_challenges(
        'Bearer realm="https://a/token",service=reg,scope="x\\"y" , Basic realm=b'
    )
    assert got == [
        Challenge("bearer", {"realm": "https://a/token", "service": "reg", "scope": 'x"y'}),
        Challenge("basic", {"realm": "b"}),
    ]
