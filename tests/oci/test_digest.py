"""Digests: grammar, algorithms, computing and verifying while streaming."""

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flakymirror.oci import Digest, DigestError, DigestMismatch, Hasher, verify_stream

EMPTY256 = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
EMPTY512 = "sha512:" + hashlib.sha512(b"").hexdigest()


@pytest.mark.parametrize("text", [EMPTY256, EMPTY512, "sha256:" + "0" * 64, "sha256:" + "f" * 64])
def test_parse_good(text):
    d = Digest.parse(text)
    assert str(d) == text
    assert d.algorithm == text.split(":")[0]
    assert d.hex == text.split(":")[1] == d.encoded
    assert Digest.is_valid(text)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "expected '<algorithm>:<hex>'"),
        ("sha256", "expected '<algorithm>:<hex>'"),
        ("sha256:", "expected '<algorithm>:<hex>'"),
        (":" + "a" * 64, "expected '<algorithm>:<hex>'"),
        ("sha256:zz", "needs 64 lowercase hex"),
        ("sha256:" + "A" * 64, "needs 64 lowercase hex"),
        ("sha256:" + "a" * 63, "needs 64 lowercase hex"),
        ("sha256:" + "a" * 65, "needs 64 lowercase hex"),
        ("sha512:" + "a" * 64, "needs 128 lowercase hex"),
        ("md5:d41d8cd98f00b204e9800998ecf8427e", "unsupported algorithm 'md5'"),
        ("SHA256:" + "a" * 64, "expected '<algorithm>:<hex>'"),
        (" sha256:" + "a" * 64, "expected '<algorithm>:<hex>'"),
        ("sha256::" + "a" * 64, "expected '<algorithm>:<hex>'"),
        # "$" in a regex matches before a trailing newline: must still be rejected
        ("sha256:" + "a" * 63 + "\n", "expected '<algorithm>:<hex>'"),
        ("sha256:" + "a" * 64 + "\n", "expected '<algorithm>:<hex>'"),
    ],
)
def test_parse_bad_quotes_the_text(text, why):
    with pytest.raises(DigestError) as e:
        Digest.parse(text)
    assert repr(text) in str(e.value)
    assert why in str(e.value)
    assert not Digest.is_valid(text)


def test_parse_rejects_non_strings():
    with pytest.raises(DigestError, match="must be a string"):
        Digest.parse(b"sha256:" + b"a" * 64)  # type: ignore[arg-type]


def test_of_and_of_stream_agree():
    data = b"hello world" * 1000
    d = Digest.of(data)
    assert str(d) == "sha256:" + hashlib.sha256(data).hexdigest()
    sd, size = Digest.of_stream([data[:7], b"", data[7:5000], data[5000:]])
    assert (sd, size) == (d, len(data))
    assert str(Digest.of(data, "sha512")) == "sha512:" + hashlib.sha512(data).hexdigest()


def test_short_repr_equality_hash():
    d = Digest.parse(EMPTY256)
    assert d.short() == "sha256:e3b0c44298fc"
    assert d.short(4) == "sha256:e3b0"
    assert repr(d) == f"Digest({EMPTY256!r})"
    assert d == Digest.of(b"") and hash(d) == hash(Digest.of(b""))
    assert d != Digest.of(b"", "sha512")


def test_hasher_counts_and_rejects_unknown_algorithms():
    h = Hasher("sha512")
    h.update(b"ab")
    h.update(b"c")
    assert h.size == 3 and h.digest() == Digest.of(b"abc", "sha512")
    with pytest.raises(DigestError, match="'md5'"):
        Hasher("md5")


def test_verify_stream_passes_chunks_through():
    chunks = [b"abc", b"", b"def"]
    assert list(verify_stream(chunks, Digest.of(b"abcdef"), size=6)) == chunks
    assert list(verify_stream(chunks, Digest.of(b"abcdef", "sha512"))) == chunks


def test_verify_stream_digest_mismatch_only_at_end():
    seen = []
    with pytest.raises(DigestMismatch) as e:
        for chunk in verify_stream([b"abc", b"def"], Digest.of(b"abcdeX")):
            seen.append(chunk)
    assert seen == [b"abc", b"def"]
    assert e.value.expected == Digest.of(b"abcdeX")
    assert e.value.actual == Digest.of(b"abcdef")
    assert str(Digest.of(b"abcdeX")) in str(e.value)


def test_verify_stream_size_too_long_stops_early():
    seen = []
    with pytest.raises(ValueError, match="longer than the expected 4 bytes"):
        for chunk in verify_stream([b"abc", b"def", b"ghi"], Digest.of(b"abcdef"), size=4):
            seen.append(chunk)
    assert seen == [b"abc"]


def test_verify_stream_size_too_short():
    with pytest.raises(ValueError, match="is 3 bytes, expected 6"):
        list(verify_stream([b"abc"], Digest.of(b"abc"), size=6))


@given(st.binary(max_size=2048), st.sampled_from(["sha256", "sha512"]))
def test_roundtrip_any_content(data, algorithm):
    d = Digest.of(data, algorithm)
    assert Digest.parse(str(d)) == d
    assert list(verify_stream([data], d, size=len(data))) == [data]
