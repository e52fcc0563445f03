"""Presets without running a client: the table, the lookup, the commands each builds for a cell
(plain, TLS, auth, origin), configuration files, the clean environment and the readers."""

from __future__ import annotations

import base64
import hashlib
import json
import tomllib
from pathlib import Path

import pytest

from flakymirror.oci import build_image, build_index
from flakymirror.trial.cell import Cell, Content, Target
from flakymirror.trial.configs import write_configs
from flakymirror.trial.content import (
    ctr_image_digest,
    read_buildah_inspect,
    read_layout,
    read_podman_inspect,
    read_skopeo_inspect,
    safe_read,
)
from flakymirror.trial.environment import NO_PROXY, SANE_PATH, clean_env
from flakymirror.trial.placeholders import NoValue
from flakymirror.trial.presets import PRESETS, Preset, UnknownPreset, get_preset
from flakymirror.trial.pyclients import LayoutWriter, split_reference
from flakymirror.trial.sessions import open_session

MIRROR, ORIGIN = "127.0.0.1:5001", "127.0.0.1:5002"


def cell_for(tmp_path: Path, *, origin=False, tls=False, auth=None, platform="linux/amd64"):
    image = build_image(layers=2, seed=3)
    values = {"ref": f"{MIRROR}/repo:tag", "platform": platform, "mirror": MIRROR,
              "workdir": str(tmp_path / "work")}  # fmt: skip
    if origin:
        values.update(origin=ORIGIN, origin_ref=f"{ORIGIN}/repo:tag")
    credentials = ("alice", "s3cret") if auth else None
    if credentials:
        values.update(username="alice", password="s3cret")
    values.update(write_configs(tmp_path / "config", mirror=MIRROR, origin=ORIGIN if origin else None,
                                ca_pem=b"PEM" if tls else None, credentials=credentials))  # fmt: skip
    return Cell(tmp_path, values, Target.of(image, "repo:tag", platform), clean_env(tmp_path), 5.0,
                origin=origin, auth=auth, tls=tls)  # fmt: skip


def argv_of(name: str, cell: Cell, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The argv a preset builds for ``cell`` (for ctr-pull, without starting containerd)."""
    from flakymirror.trial import containerd

    monkeypatch.setattr(containerd.PrivateContainerd, "start", lambda self, timeout=0: self)
    with open_session(PRESETS[name], cell) as s:
        return s.argv


# -- the table and the lookup -------------------------------------------------------------------
def test_the_shipped_presets_and_what_they_say():
    assert list(PRESETS) == ["skopeo-inspect", "skopeo-copy", "podman-pull", "buildah-pull",
                             "ctr-pull", "oras-py", "python-dxf"]  # fmt: skip
    assert [n for n, p in PRESETS.items() if p.mirror_config] == [
        "skopeo-inspect", "skopeo-copy", "podman-pull", "buildah-pull", "ctr-pull"]  # fmt: skip
    assert [n for n, p in PRESETS.items() if p.manifest_only] == ["skopeo-inspect"]
    dxf, oras = PRESETS["python-dxf"], PRESETS["oras-py"]
    assert dxf.needs_tls("bearer") and dxf.needs_tls("basic") and not dxf.needs_tls(None)
    assert not oras.needs_tls("bearer") and not PRESETS["skopeo-copy"].needs_tls("basic")


def test_unknown_preset_says_did_you_mean():
    with pytest.raises(UnknownPreset, match=r"unknown client preset 'skopeo-cpy' \(did you mean "
                       r"'skopeo-copy'\?\); presets: skopeo-inspect, skopeo-copy"):  # fmt: skip
        get_preset("skopeo-cpy")
    with pytest.raises(UnknownPreset) as info:
        get_preset("zzz")
    assert "did you mean" not in str(info.value)
    assert get_preset("ctr-pull") is PRESETS["ctr-pull"]


@pytest.mark.parametrize("name", list(PRESETS))
def test_a_preset_is_a_value_whose_dict_form_round_trips(name):
    preset = PRESETS[name]
    data = json.loads(json.dumps(preset.to_dict()))
    assert Preset.from_dict(data) == preset
    assert repr(preset).startswith(f"Preset(name='{name}'")
    with pytest.raises(ValueError, match=r"unknown keys \['colour'\]"):
        Preset.from_dict({**data, "colour": "red"})


def test_unavailable_names_the_missing_binary_or_package():
    missing = Preset("x", "skopeo", "x", "x", "x", requires=("flakymirror-no-such-tool",))
    assert missing.unavailable() == "flakymirror-no-such-tool is not installed"
    assert missing.version() is None
    no_module = Preset("y", "python", "python", "y", "y", module="flakymirror_no_such_module",
                       package="no-such-package")  # fmt: skip
    assert no_module.unavailable() == "the Python package no-such-package is not installed"
    with pytest.raises(ValueError, match="family must be one of"):
        Preset("z", "docker", "z", "z", "z")


def test_version_of_a_python_client_is_its_package_version():
    pytest.importorskip("oras")
    from importlib.metadata import version

    assert PRESETS["oras-py"].version() == f"oras-py {version('oras')}"


# -- commands -----------------------------------------------------------------------------------
def test_skopeo_commands_plain_tls_auth_and_origin(tmp_path, monkeypatch):
    plain = argv_of("skopeo-copy", cell_for(tmp_path / "p"), monkeypatch)
    conf = str(tmp_path / "p" / "config" / "registries.conf")
    assert plain == ["skopeo", "--insecure-policy", "--registries-conf", conf, "--override-os",
                     "linux", "--override-arch", "amd64", "copy", "--src-tls-verify=false",
                     f"docker://{MIRROR}/repo:tag", f"oci:{tmp_path / 'p' / 'work'}/out"]  # fmt: skip
    tls = argv_of("skopeo-inspect", cell_for(tmp_path / "t", tls=True, auth="basic",
                                             platform="linux/arm64/v8"), monkeypatch)  # fmt: skip
    certs = tmp_path / "t" / "config" / "certs.d" / MIRROR
    assert tls[2:] == [str(tmp_path / "t" / "config" / "registries.conf"), "--override-os",
                       "linux", "--override-arch", "arm64", "--override-variant", "v8", "inspect",
                       "--cert-dir", str(certs), "--creds", "alice:s3cret",
                       f"docker://{MIRROR}/repo:tag"]  # fmt: skip
    assert (certs / "ca.crt").read_bytes() == b"PEM"
    through = argv_of("skopeo-copy", cell_for(tmp_path / "o", origin=True), monkeypatch)
    assert f"docker://{ORIGIN}/repo:tag" in through and "--src-tls-verify=false" not in through


def test_podman_and_buildah_keep_storage_short_and_private(tmp_path):
    cell = cell_for(tmp_path / "a" / ("deep" * 20), auth="bearer")
    with open_session(PRESETS["podman-pull"], cell) as s:
        root = Path(s.argv[s.argv.index("--runroot") + 1])
        assert len(str(root)) <= 50 and root.parent.is_dir()
        assert s.argv[s.argv.index("--authfile") + 1] == cell.values["authfile"]
        assert s.argv[-3:] == ["--platform", "linux/amd64", f"{MIRROR}/repo:tag"]
        assert json.loads(Path(s.argv[s.argv.index("--signature-policy") + 1]).read_text())
        assert s.env["CONTAINERS_REGISTRIES_CONF"] == cell.values["registries_conf"]
        assert s.env["HOME"] == cell.env["HOME"]
    assert not root.parent.exists()  # removed on exit
    with open_session(PRESETS["buildah-pull"], cell_for(tmp_path / "b", origin=True)) as s:
        assert "--creds" not in s.argv and "--tls-verify=false" not in s.argv
        assert s.argv[-1] == f"{ORIGIN}/repo:tag" and s.image == s.argv[-1]


def test_ctr_plain_http_direct_hosts_dir_through_an_origin_or_tls(tmp_path, monkeypatch):
    direct = argv_of("ctr-pull", cell_for(tmp_path / "d", auth="basic"), monkeypatch)
    assert direct[:2] == ["ctr", "-a"] and direct[3] == "-n" and direct[4].startswith("fm-")
    assert direct[5:] == ["images", "pull", "--plain-http", "--user", "alice:s3cret",
                          "--platform", "linux/amd64", "--snapshotter", "native",
                          f"{MIRROR}/repo:tag"]  # fmt: skip
    through = argv_of("ctr-pull", cell_for(tmp_path / "o", origin=True), monkeypatch)
    assert through[7:9] == ["--hosts-dir", str(tmp_path / "o" / "config" / "hosts.d")]
    assert through[-1] == f"{ORIGIN}/repo:tag"
    assert "--plain-http" in direct and "--plain-http" not in argv_of(
        "ctr-pull", cell_for(tmp_path / "t", tls=True), monkeypatch)


def test_python_clients_run_with_this_interpreter(tmp_path, monkeypatch):
    import sys

    oras = argv_of("oras-py", cell_for(tmp_path / "o", auth="basic"), monkeypatch)
    assert oras[:4] == [sys.executable, "-m", "flakymirror.trial.pyclients", "oras-pull"]
    assert oras[4:] == [f"{MIRROR}/repo:tag", str(tmp_path / "o" / "work") + "/out",
                        "--username", "alice", "--password", "s3cret", "--auth-backend",
                        "basic", "--insecure", "--platform", "linux/amd64"]  # fmt: skip
    dxf = argv_of("python-dxf", cell_for(tmp_path / "d", tls=True, auth="bearer"), monkeypatch)
    assert dxf[3] == "dxf-pull" and dxf[-4:-2] == ["--ca", str(tmp_path / "d" / "config" / "ca.pem")]


def test_a_missing_value_raises_novalue_and_leaves_nothing(tmp_path, monkeypatch):
    from flakymirror.trial import containerd

    made: list[Path] = []

    def tempdir(prefix: str = "fm-") -> Path:
        made.append(tmp_path / f"short{len(made)}")
        made[-1].mkdir()
        return made[-1]

    started: list[object] = []
    monkeypatch.setattr(containerd, "short_tempdir", tempdir)
    monkeypatch.setattr(containerd.PrivateContainerd, "start", started.append)
    cell = cell_for(tmp_path / "c")
    broken = Cell(cell.workdir, {k: v for k, v in cell.values.items() if k != "registries_conf"},
                  cell.target, cell.env, 5.0)  # fmt: skip
    for name in ("skopeo-copy", "podman-pull", "ctr-pull"):
        session = open_session(PRESETS[name], broken if name != "ctr-pull" else Cell(
            cell.workdir, {}, cell.target, cell.env, 5.0))  # fmt: skip
        with pytest.raises(NoValue, match=r"\{registries_conf\}|\{ref\}"), session:
            pass
    assert len(made) == 2 and not any(p.exists() for p in made) and started == []


# -- configuration files --------------------------------------------------------------------------
def test_configs_with_an_origin_tls_and_auth(tmp_path):
    values = write_configs(tmp_path, mirror=MIRROR, origin=ORIGIN, ca_pem=b"CA",
                           credentials=("u", "p:w"))  # fmt: skip
    assert set(values) == {"registries_conf", "hosts_dir", "certs_dir", "ca_file", "authfile"}
    conf = tomllib.loads(Path(values["registries_conf"]).read_text())
    assert conf == {"unqualified-search-registries": [], "registry": [
        {"prefix": ORIGIN, "location": ORIGIN, "insecure": True,
         "mirror": [{"location": MIRROR}]}]}  # fmt: skip
    hosts = tomllib.loads((Path(values["hosts_dir"]) / ORIGIN / "hosts.toml").read_text())
    assert hosts == {"server": f"http://{ORIGIN}", "host": {f"https://{MIRROR}": {
        "capabilities": ["pull", "resolve"], "ca": values["ca_file"]}}}  # fmt: skip
    assert (Path(values["certs_dir"]) / MIRROR / "ca.crt").read_bytes() == b"CA"
    auth = json.loads(Path(values["authfile"]).read_text())
    assert base64.b64decode(auth["auths"][MIRROR]["auth"]) == b"u:p:w"


def test_configs_without_an_origin_reach_the_plain_mirror(tmp_path):
    values = write_configs(tmp_path, mirror=MIRROR)
    assert set(values) == {"registries_conf", "hosts_dir"}
    conf = tomllib.loads(Path(values["registries_conf"]).read_text())
    assert conf["registry"] == [{"prefix": MIRROR, "location": MIRROR, "insecure": True}]
    hosts = tomllib.loads((Path(values["hosts_dir"]) / MIRROR / "hosts.toml").read_text())
    assert hosts == {"server": f"http://{MIRROR}",
                     "host": {f"http://{MIRROR}": {"capabilities": ["pull", "resolve"]}}}  # fmt: skip


# -- the clean environment -------------------------------------------------------------------------
def test_clean_env_inherits_nothing_that_changes_a_client(tmp_path, monkeypatch):
    for name in ("HTTP_PROXY", "https_proxy", "ALL_PROXY", "SSL_CERT_FILE", "DOCKER_HOST",
                 "REQUESTS_CA_BUNDLE", "CONTAINERS_REGISTRIES_CONF", "GODEBUG", "CI"):
        monkeypatch.setenv(name, "x")  # fmt: skip
    monkeypatch.setenv("TZ", "Europe/Paris")
    monkeypatch.delenv("TERM", raising=False)
    env = clean_env(tmp_path, {"EXTRA": "1"})
    assert set(env) == {"HOME", "DOCKER_CONFIG", "XDG_CONFIG_HOME", "XDG_DATA_HOME",
                        "XDG_CACHE_HOME", "XDG_RUNTIME_DIR", "TMPDIR", "REGISTRY_AUTH_FILE",
                        "PATH", "LANG", "NO_PROXY", "no_proxy", "TZ", "EXTRA"}  # fmt: skip
    assert env["PATH"] == SANE_PATH and env["NO_PROXY"] == env["no_proxy"] == NO_PROXY
    assert env["TZ"] == "Europe/Paris"
    for name in ("HOME", "DOCKER_CONFIG", "XDG_RUNTIME_DIR", "TMPDIR"):
        assert Path(env[name]).is_dir() and Path(env[name]).is_relative_to(tmp_path)
    assert json.loads(Path(env["REGISTRY_AUTH_FILE"]).read_text()) == {"auths": {}}


# -- readers ------------------------------------------------------------------------------------
def layout_of(path: Path, image, *, skip=(), damage=(), index=None) -> None:
    out = LayoutWriter(path)
    top = index if index is not None else image
    images = index.images if index is not None else [image]
    for img in images:
        out.put(img.manifest_bytes)
        for blob in img.blobs():
            if str(blob.digest) in skip:
                continue
            data = b"".join(blob.chunks())
            out.path(str(blob.digest)).write_bytes(data[:-1] if str(blob.digest) in damage else data)
    data = index.index_bytes if index is not None else image.manifest_bytes
    out.put(data)
    out.finish(str(top.digest), top.media_type, len(data))


def test_read_layout_complete_missing_damaged_and_index(tmp_path):
    image = build_image(layers=3, seed=4)
    target = Target.of(image, "r:t")
    layout_of(tmp_path / "ok", image)
    ok = read_layout(tmp_path / "ok", "linux/amd64")
    assert (ok.manifest, ok.config, ok.layers) == (target.manifest, target.config, target.layers)
    assert ok.verified is True and not ok.partial
    layer = target.layers[1]
    layout_of(tmp_path / "miss", image, skip={layer})
    miss = read_layout(tmp_path / "miss", "linux/amd64")
    assert miss.partial and miss.layers == (target.layers[0], target.layers[2])
    layout_of(tmp_path / "bad", image, damage={layer})
    bad = read_layout(tmp_path / "bad", "linux/amd64")
    assert bad.verified is False and bad.partial and "does not match" in bad.detail
    index = build_index(seed=5, layers=2)
    layout_of(tmp_path / "ix", None, index=index)
    arm = read_layout(tmp_path / "ix", "linux/arm64")
    assert arm.manifest == str(index.image_for("linux/arm64").digest)
    assert arm.extra["index"] == str(index.digest) and arm.verified
    assert read_layout(tmp_path / "ix", "linux/s390x").partial


def test_read_layout_without_index_json_keeps_what_was_left(tmp_path):
    image = build_image(layers=2, seed=6)
    out = LayoutWriter(tmp_path / "half")
    blob = image.layers[0]
    out.path(str(blob.digest)).write_bytes(b"".join(blob.chunks()))
    half = read_layout(tmp_path / "half", "linux/amd64")
    assert half.readable and half.partial and half.manifest is None and half.extra["blobs"] == 1
    nothing = read_layout(tmp_path / "none", "linux/amd64")
    assert nothing.readable and not nothing.partial and nothing.manifest is None


def test_read_client_json_outputs():
    inspect = read_skopeo_inspect('{"Digest": "sha256:aa", "Layers": ["sha256:l1"]}')
    assert (inspect.manifest, inspect.layers, inspect.config) == ("sha256:aa", ("sha256:l1",), None)
    assert not read_skopeo_inspect("level=fatal").readable
    podman = read_podman_inspect(
        'WARN[0000] x\n[{"Id": "cc", "Digest": "sha256:m", "RootFS": {"Layers": ["sha256:d"]}}]')
    assert (podman.manifest, podman.config, podman.diff_ids) == ("sha256:m", "sha256:cc", ("sha256:d",))
    gone = read_podman_inspect("[]", kept_layers=2)
    assert gone.readable and gone.partial and gone.manifest is None
    manifest = json.dumps({"layers": [{"digest": "sha256:l"}]})
    buildah = read_buildah_inspect(json.dumps({"FromImageDigest": "sha256:m", "FromImageID": "cc",
                                               "Manifest": manifest,
                                               "OCIv1": {"rootfs": {"diff_ids": ["sha256:d"]}}}))
    assert (buildah.layers, buildah.diff_ids, buildah.config) == (("sha256:l",), ("sha256:d",), "sha256:cc")
    table = ("REF TYPE DIGEST SIZE PLATFORMS LABELS\n"
             "127.0.0.1:1/r:t application/vnd.oci.image.manifest.v1+json sha256:ab 1 KiB linux/amd64 -\n")
    assert ctr_image_digest(table, "127.0.0.1:1/r:t") == "sha256:ab"
    assert ctr_image_digest(table, "127.0.0.1:1/r:u") is None


def test_a_reader_never_raises():
    def broken() -> Content:
        raise KeyError("Layers")

    content = safe_read(broken)
    assert not content.readable and "KeyError" in content.detail


def test_split_reference_and_the_layout_writer(tmp_path):
    assert split_reference("127.0.0.1:5000/a/b:v1") == ("127.0.0.1:5000", "a/b", "v1")
    assert split_reference("h:1/a@sha256:ab") == ("h:1", "a", "sha256:ab")
    assert split_reference("h:1/a") == ("h:1", "a", "latest")
    with pytest.raises(ValueError, match="no registry host"):
        split_reference("repo:tag")
    with pytest.raises(ValueError, match="not a digest"):
        LayoutWriter(tmp_path).path("sha256:../../etc")
    digest = LayoutWriter(tmp_path).put(b"{}")
    assert digest == "sha256:" + hashlib.sha256(b"{}").hexdigest()


def test_preset_session_is_the_sessions_module(tmp_path):
    cell = cell_for(tmp_path)
    with PRESETS["skopeo-inspect"].session(cell) as s:
        assert s.argv[0] == "skopeo" and s.env == dict(cell.env)
        assert s.argv[-1] == f"docker://{MIRROR}/repo:tag" and s.image == f"{MIRROR}/repo:tag"


def test_a_mirror_with_auth_but_no_credentials_for_the_client_runs_it_without(tmp_path):
    cell = cell_for(tmp_path)
    anonymous = Cell(cell.workdir, cell.values, cell.target, cell.env, 5.0, auth="bearer")
    for name in ("skopeo-copy", "podman-pull", "buildah-pull", "oras-py"):
        with open_session(PRESETS[name], anonymous) as s:
            assert not {"--creds", "--src-creds", "--authfile", "--username"} & set(s.argv)
