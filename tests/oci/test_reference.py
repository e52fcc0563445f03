"""Image references: the good, the bad, and what each part means."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flakymirror.oci import (
    REPOSITORY_PATTERN,
    REPOSITORY_RE,
    TAG_RE,
    Digest,
    InvalidReferenceError,
    Reference,
    validate_host,
    validate_repository,
    validate_tag,
)

DG = str(Digest.of(b"x"))

GOOD = [
    # text, registry, repository, tag, digest
    ("foo", None, "foo", None, None),
    ("foo/bar", None, "foo/bar", None, None),
    ("foo/bar:v1", None, "foo/bar", "v1", None),
    ("library/busybox:1.36.1-musl", None, "library/busybox", "1.36.1-musl", None),
    ("localhost/foo", "localhost", "foo", None, None),
    ("localhost:5000/foo:latest", "localhost:5000", "foo", "latest", None),
    ("127.0.0.1:5000/a/b/c:tag@" + DG, "127.0.0.1:5000", "a/b/c", "tag", DG),
    ("registry.example.com/ns/app@" + DG, "registry.example.com", "ns/app", None, DG),
    ("example.com/a.b/c_d/e__f/g---h", "example.com", "a.b/c_d/e__f/g---h", None, None),
    ("Example.COM/foo", "Example.COM", "foo", None, None),
    ("[::1]:5000/foo:_tag", "[::1]:5000", "foo", "_tag", None),
    ("foo:" + "a" * 128, None, "foo", "a" * 128, None),
    ("foo:UPPER.case-ok_", None, "foo", "UPPER.case-ok_", None),
    ("foo@" + DG, None, "foo", None, DG),
    ("localhost:5000", None, "localhost", "5000", None),  # no slash: a repository and a tag
]


@pytest.mark.parametrize(("text", "registry", "repository", "tag", "digest"), GOOD)
def test_parse_good(text, registry, repository, tag, digest):
    ref = Reference.parse(text)
    assert ref.registry == registry
    assert ref.repository == repository
    assert ref.tag == tag
    assert ref.digest == (Digest.parse(digest) if digest else None)
    assert str(ref) == text
    assert Reference.parse(str(ref)) == ref
    assert ref.name == (f"{registry}/{repository}" if registry else repository)
    assert ref.identifier == (digest or tag or "latest")


BAD = [
    # text, the part the message must name
    ("", "reference is empty"),
    ("foo bar", "contains whitespace"),
    ("foo\n", "contains whitespace"),
    ("Foo/bar", "bad repository part: invalid repository name 'Foo/bar': component 0 'Foo'"),
    ("foo/Bar", "component 1 'Bar'"),
    ("foo/../bar", "contains '..'"),
    ("localhost/a..b", "contains '..'"),
    ("foo//bar", "component 1 ''"),
    ("foo/", "component 1 ''"),
    ("/foo", "component 0 ''"),
    ("foo-/bar", "component 0 'foo-'"),
    ("foo___bar", "component 0 'foo___bar'"),
    ("foo:", "bad tag part: tag is empty"),
    ("foo:.hidden", "bad tag part: invalid tag '.hidden'"),
    ("foo:-x", "bad tag part: invalid tag '-x'"),
    ("foo:" + "a" * 129, "bad tag part"),
    ("foo:a/b", "bad registry part: invalid registry host 'foo:a'"),
    ("foo@sha256:zz", "bad digest part: invalid digest 'sha256:zz'"),
    ("foo@", "bad digest part"),
    ("foo@md5:d41d8cd98f00b204e9800998ecf8427e", "unsupported algorithm 'md5'"),
    ("example.com:0/foo", "port 0 is out of range"),
    ("example.com:70000/foo", "port 70000 is out of range"),
    ("exa_mple.com/foo", "bad registry part: invalid registry host 'exa_mple.com'"),
    ("-bad.com/foo", "bad registry part"),
    ("example.com:port/foo", "bad registry part"),
    ("a" * 256, "more than 255"),
    ("example.com/" + "a" * 250, "more than 255"),
]


@pytest.mark.parametrize(("text", "part"), BAD)
def test_parse_bad_quotes_text_and_names_part(text, part):
    with pytest.raises(InvalidReferenceError) as e:
        Reference.parse(text)
    msg = str(e.value)
    assert part in msg
    if text and len(text) < 100 and not text.isspace():
        assert repr(text) in msg


def test_reference_error_is_a_value_error():
    assert issubclass(InvalidReferenceError, ValueError)
    with pytest.raises(ValueError):
        Reference.parse("UPPER")


def test_constructing_validates_and_coerces():
    ref = Reference("localhost:1234", "a/b", "t", DG)  # type: ignore[arg-type]
    assert ref.digest == Digest.parse(DG)
    with pytest.raises(InvalidReferenceError, match="invalid repository name 'A'"):
        Reference(None, "A")
    with pytest.raises(InvalidReferenceError, match="invalid tag"):
        Reference(None, "a", "!")
    with pytest.raises(InvalidReferenceError, match="invalid digest"):
        Reference(None, "a", None, "sha256:1")  # type: ignore[arg-type]
    with pytest.raises(InvalidReferenceError, match="invalid registry host"):
        Reference("bad host", "a")


def test_with_tag_and_digest():
    ref = Reference.parse("localhost:5000/foo:v1")
    assert str(ref.with_tag("v2")) == "localhost:5000/foo:v2"
    assert str(ref.with_digest(DG)) == f"localhost:5000/foo:v1@{DG}"
    assert ref.with_tag(None).identifier == "latest"


@pytest.mark.parametrize("name", ["a", "a/b", "a0.b_c__d-e--f/g", "x" * 255])
def test_validate_repository_good(name):
    assert validate_repository(name) == name
    assert REPOSITORY_RE.match(name)


@pytest.mark.parametrize("name", ["", "A", "a..b", "a/", "a\n", "_a", "a_", "a.-b", "x" * 256])
def test_validate_repository_bad(name):
    with pytest.raises(InvalidReferenceError):
        validate_repository(name)
    if len(name) <= 255:  # the regex is the grammar only; the length cap is separate
        assert not REPOSITORY_RE.match(name)


@pytest.mark.parametrize(("tag", "ok"), [("v1", True), ("_x", True), ("a" * 128, True),
                                         (".x", False), ("a" * 129, False), ("v1\n", False),
                                         ("", False), ("a:b", False)])  # fmt: skip
def test_validate_tag(tag, ok):
    assert bool(TAG_RE.match(tag)) is ok
    if ok:
        assert validate_tag(tag) == tag
    else:
        with pytest.raises(InvalidReferenceError):
            validate_tag(tag)


def test_validate_host():
    assert validate_host("127.0.0.1:5000") == "127.0.0.1:5000"
    for bad in ("", "a:b", "host:99999", "a..b", "a.b:5000\n"):
        with pytest.raises(InvalidReferenceError):
            validate_host(bad)


def test_pattern_embeds_in_a_route():
    import re

    route = re.compile(rf"/v2/(?P<name>{REPOSITORY_PATTERN})/manifests/(?P<ref>[^/]+)")
    m = route.fullmatch("/v2/foo/bar/manifests/latest")
    assert m and m["name"] == "foo/bar"


_component = st.from_regex(r"[a-z0-9]{1,5}(?:[._-][a-z0-9]{1,4}){0,2}", fullmatch=True)
_repo = st.lists(_component, min_size=1, max_size=4).map("/".join)
_tag = st.from_regex(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,20}", fullmatch=True)
_host = st.sampled_from([None, "localhost", "localhost:5000", "127.0.0.1:1", "r.example.io"])


@given(_host, _repo, st.none() | _tag, st.none() | st.binary(max_size=8).map(Digest.of))
def test_roundtrip(host, repo, tag, digest):
    first, slash, _ = repo.partition("/")
    if host is None and slash and "." in first:
        with pytest.raises(InvalidReferenceError, match="reads as a registry host"):
            Reference(host, repo, tag, digest)
        return
    ref = Reference(host, repo, tag, digest)
    assert Reference.parse(str(ref)) == ref


def test_registryless_repository_that_looks_like_a_host_is_ambiguous():
    with pytest.raises(InvalidReferenceError, match="host 'example.com': pass registry='example.com'"):
        Reference(None, "example.com/foo")
    assert Reference(None, "example.com").name == "example.com"  # one component: a repository
    assert Reference("localhost:5000", "example.com/foo").name == "localhost:5000/example.com/foo"


def test_the_old_name_reference_error_still_works_with_a_warning():
    import flakymirror.oci as oci
    import flakymirror.oci.reference as reference

    for module in (oci, reference):
        with pytest.warns(DeprecationWarning, match="use InvalidReferenceError"):
            assert module.ReferenceError is InvalidReferenceError
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        reference.Nope  # noqa: B018
