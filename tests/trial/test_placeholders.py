"""Command templates: shell-like splitting, placeholder checks, n/a for missing values."""

from __future__ import annotations

import pytest

from flakymirror.trial.placeholders import PLACEHOLDERS, NoValue, Template, TemplateError


def test_split_like_a_shell_line_and_fill_each_word():
    t = Template.parse('tool --creds {username}:{password} "oci:{workdir}/out dir" {ref} {{x}}')
    argv = t.render({"username": "u", "password": "p w", "workdir": "/w", "ref": "h:1/r:t"})
    assert argv == ["tool", "--creds", "u:p w", "oci:/w/out dir", "h:1/r:t", "{x}"]
    assert t.names == {"username", "password", "workdir", "ref"}
    assert str(t) == t.text


def test_a_value_with_spaces_stays_one_word():
    assert Template.parse("echo {ref}").render({"ref": "a b; rm -rf /"}) == ["echo", "a b; rm -rf /"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tool {rf}", "unknown placeholder {rf} (did you mean {ref}?)"),
        ("tool {ref:>4}", "takes no format spec or conversion"),
        ("tool {ref!r}", "takes no format spec or conversion"),
        ("tool {ref", "expected '}' before end of string"),
        ("tool 'unterminated", "No closing quotation"),
        ("   ", "client template is empty"),
        ("tool {}", "unknown placeholder {}"),
    ],
)
def test_bad_templates_say_what_is_wrong(text, message):
    with pytest.raises(TemplateError) as err:
        Template.parse(text)
    assert message in str(err.value)


def test_a_placeholder_without_value_is_no_value_not_a_broken_command():
    t = Template.parse("tool pull {origin_ref} --ca {ca_file}")
    with pytest.raises(NoValue) as err:
        t.render({"ref": "x"})
    assert err.value.names == ("ca_file", "origin_ref")
    assert "{ca_file}, {origin_ref}" in str(err.value)


def test_every_documented_placeholder_is_known():
    assert set(PLACEHOLDERS) == {
        "ref", "origin_ref", "digest_ref", "platform", "mirror", "origin", "workdir",
        "registries_conf", "hosts_dir", "ca_file", "certs_dir", "username", "password",
        "authfile",
    }  # fmt: skip
    assert Template.parse(" ".join("{" + p + "}" for p in PLACEHOLDERS)).names == set(PLACEHOLDERS)
