"""Read and validate scenario files (TOML, via the standard library's ``tomllib``).

Every problem becomes a :class:`~flakymirror.scenario.errors.ScenarioError` naming the file, the
dotted key (``expect.sleeps.opener[2]``) and the line. Unknown keys are rejected with a
"did you mean"; the mirror's plan and fault tables are handed to the mirror's own ``from_dict``
and its ``ValueError`` is re-raised with the file and key path.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flakymirror.mirror.faults import FaultRule
from flakymirror.mirror.forms import Form, FormError, KeyPath, suggest
from flakymirror.mirror.journal import MAX_JOURNAL_SIZE
from flakymirror.mirror.plans import plans_from_dict
from flakymirror.oci.reference import InvalidReferenceError, Reference
from flakymirror.scenario.budget import Budget, over_budget
from flakymirror.scenario.errors import ScenarioError
from flakymirror.scenario.expect import read_expect
from flakymirror.scenario.fields import (
    check_int,
    check_number,
    check_str,
    describe,
    toml_form,
    toml_value,
)
from flakymirror.scenario.incident import DIGEST_REF, pushed, read_incident, read_origin
from flakymirror.scenario.model import (
    ACTIONS,
    CLOCKS,
    LIFECYCLE_DELAYS,
    PROFILES,
    Action,
    AuthSpec,
    ImageSpec,
    MirrorSpec,
    Scenario,
    label_pairs,
)

__all__ = ["load_file", "loads", "scenario_from_dict"]

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_PLATFORM_RE = re.compile(r"^[a-z0-9]+/[a-z0-9_]+(?:/[a-z0-9]+)?$")
_TOML_POS = re.compile(r"\(at line (\d+), column \d+\)")


def load_file(path: str | Path) -> Scenario:
    """Load and validate one scenario file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ScenarioError(f"cannot read scenario file: {e.strerror or e}", path=str(path)) from e
    except UnicodeDecodeError as e:
        raise ScenarioError(f"not UTF-8 text: {e}", path=str(path)) from e
    return loads(text, path=str(path))


def loads(text: str, *, path: str = "<string>", budget: Budget | None = None) -> Scenario:
    """Parse and validate scenario TOML ``text``; ``path`` is used in error messages.
    ``budget``: refuse a scenario asking for more than it allows (checked before anything is
    built; see :mod:`~flakymirror.scenario.budget`)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = _TOML_POS.search(str(e))
        reason = _TOML_POS.sub("", str(e)).strip()
        raise ScenarioError(
            f"invalid TOML: {reason}", path=path, line=int(m.group(1)) if m else None
        ) from e
    return scenario_from_dict(data, path=path, text=text, budget=budget)


def scenario_from_dict(
    data: Any, *, path: str | None = None, text: str | None = None, budget: Budget | None = None
) -> Scenario:
    """Validate a parsed scenario (``tomllib`` dict form) and build the :class:`Scenario`
    (within ``budget`` when given)."""
    try:
        return _scenario(toml_form(data), path, budget)
    except FormError as e:
        raise ScenarioError.from_form(e, path=path, text=text) from e.__cause__


# -- sections ----------------------------------------------------------------------------------


def _scenario(t: Form, path: str | None, budget: Budget | None) -> Scenario:
    name = t.string("name")
    if not _NAME_RE.match(name):
        raise FormError(
            t.key("name"),
            f"must be lowercase letters, digits, '.', '_' or '-', got {toml_value(name)}",
        )
    description = t.string("description")
    source = t.array("source", check_str, accept_single=True)
    if not source or not all(s.strip() for s in source):
        raise FormError(t.key("source"), "must name at least one issue or URL")
    clock = t.string("clock", "virtual", choices=CLOCKS)
    images = _images(t)
    mirror = _mirror(t.table("mirror"))
    origin = read_origin(t.table("origin"))
    incident_table = t.table("incident")
    incident = read_incident(
        incident_table, lambda text, path: _reference(text, path, tag_required=False)
    )
    action_table = t.table("action")
    action = _action(action_table) if action_table is not None else None
    expect_table = t.table("expect")
    expect = read_expect(expect_table) if expect_table is not None else None
    t.done()
    if not images:
        raise FormError(
            t.key("images"),
            "a scenario needs at least one [[images]] entry (the image under test)",
        )
    refs = {i.ref for i in images}
    image_key = ("incident", "image") if incident.image is not None else ("action", "image")
    under_test = incident.image or (action.image if action is not None else images[0].ref)
    if not pushed(under_test, refs):
        raise FormError(
            image_key,
            f"{toml_value(under_test)} is not one of the images"
            + suggest(DIGEST_REF.sub("", under_test), refs, spell=toml_value),
        )
    if action is not None and action.base_image is not None and action.base_image not in refs:
        raise FormError(
            ("action", "base_image"),
            f"{toml_value(action.base_image)} is not one of the images"
            + suggest(action.base_image, refs, spell=toml_value),
        )
    if action is not None and action.app_image is not None and action.app_image in refs:
        raise FormError(
            ("action", "app_image"),
            f"{toml_value(action.app_image)} is one of the images; the rebase set-up exports the app "
            "image there, so name a repository of its own",
        )
    return _consistent(
        Scenario(
            name=name,
            description=description,
            source=source,
            images=images,
            action=action,
            expect=expect,
            mirror=mirror,
            clock=clock,
            incident=incident,
            origin=origin,
            path=path,
        ),
        budget,
    )


def _consistent(scenario: Scenario, budget: Budget | None) -> Scenario:
    """The scenario, once it is within ``budget`` and its ``[incident]`` agrees with its plans
    and faults."""
    from flakymirror.scenario.convergence import check_incident

    if budget is not None:
        over = over_budget(scenario, budget)
        if over is not None:
            raise FormError(*over)
    problem = check_incident(scenario)
    if problem is not None:
        key, message, source = problem
        raise FormError(key, message, also=[source])
    return scenario


def _images(t: Form) -> tuple[ImageSpec, ...]:
    raw = t.raw("images", [])
    if not isinstance(raw, list):
        raise FormError(t.key("images"), "expected an array of tables ([[images]])")
    specs = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        spec = _image(toml_form(item, t.key("images") + (i,)))
        if spec.ref in seen:
            raise FormError(t.key("images") + (i, "ref"), f"{toml_value(spec.ref)} is pushed twice")
        seen.add(spec.ref)
        specs.append(spec)
    return tuple(specs)


def _image(t: Form) -> ImageSpec:
    ref = t.string("ref")
    _reference(ref, t.key("ref"), tag_required=True)
    layer_sizes = t.array("layer_sizes", lambda v, p: check_int(v, p, 0), ())
    layers = t.integer("layers", len(layer_sizes) if layer_sizes else 3)
    if layer_sizes and layers != len(layer_sizes):
        raise FormError(
            t.key("layers"), f"is {layers} but layer_sizes lists {len(layer_sizes)} sizes"
        )
    platforms = t.array("platforms", _platform, ())
    if t.has("platforms") and not platforms:
        raise FormError(t.key("platforms"), "must list at least one platform (or leave it out)")
    seen_platforms: set[str] = set()
    for i, platform in enumerate(platforms):
        if platform in seen_platforms:
            raise FormError(t.key("platforms") + (i,), f"{toml_value(platform)} is listed twice")
        seen_platforms.add(platform)
    labels = t.table("labels")
    label_map: dict[str, str] = {}
    if labels is not None:
        for key in labels.data:
            label_map[key] = labels.string(key)
        labels.done()
    spec = ImageSpec(
        ref=ref,
        layers=layers,
        seed=t.integer("seed", 0),
        layer_size=t.integer("layer_size", 4096),
        layer_sizes=layer_sizes,
        platform=_platform(t.raw("platform", "linux/amd64"), t.key("platform")),
        platforms=platforms,
        flavor=t.string("flavor", "oci", choices=("oci", "docker")),
        labels=label_pairs(label_map),
    )
    if t.has("platform") and platforms:
        raise FormError(t.key("platform"), "use either platform (one image) or platforms (an index)")
    t.done()
    return spec


def _mirror(t: Form | None) -> MirrorSpec:
    if t is None:
        return MirrorSpec()
    plans: tuple[Any, ...] = ()
    if t.has("plan"):
        plans = _mirror_value(plans_from_dict, t.raw("plan"), t.key("plan"))
    faults_raw = t.raw("faults", [])
    if not isinstance(faults_raw, list):
        raise FormError(t.key("faults"), "expected an array of tables ([[mirror.faults]])")
    faults = tuple(
        _mirror_value(FaultRule.from_dict, item, t.key("faults") + (i,))
        for i, item in enumerate(faults_raw)
    )
    auth = _auth(t.table("auth"))
    down = t.boolean("down", False)
    journal_size = t.integer("journal_size", None, minimum=1, maximum=MAX_JOURNAL_SIZE)
    t.done()
    return MirrorSpec(
        plans=plans, faults=faults, auth=auth, down=down, journal_size=journal_size
    )


def _mirror_value(build: Callable[[Any, KeyPath], Any], data: Any, path: KeyPath) -> Any:
    """The mirror's own value for a ``[mirror]`` table, read by its ``from_dict`` at ``path``
    (its errors keep the mirror's words and carry their key path in the file)."""
    if not isinstance(data, dict | list):
        raise FormError(path, f"expected a table, got {describe(data)}")
    try:
        return build(data, path)
    except FormError:
        raise
    except (ValueError, TypeError) as e:
        raise FormError(path, str(e)) from e


def _auth(t: Form | None) -> AuthSpec | None:
    if t is None:
        return None
    kind = t.string("kind", choices=("basic", "bearer"))
    spec = AuthSpec(
        kind=kind,
        username=t.string("username", "user"),
        password=t.string("password", "secret"),
        token_ttl=t.number("token_ttl", 300.0) if kind == "bearer" else 300.0,
        token_field=(
            t.string("token_field", "token", choices=("token", "access_token", "both"))
            if kind == "bearer"
            else "token"
        ),
        client_credentials=t.boolean("client_credentials", True),
    )
    if kind == "bearer" and spec.token_ttl <= 0:
        raise FormError(t.key("token_ttl"), "must be > 0")
    t.done()
    return spec


def _action(t: Form) -> Action:
    kind = t.string("kind", choices=ACTIONS)
    image = t.string("image")
    # "repo@{digest}" opens the action image by its digest (known only once it is built)
    probe = re.sub(r"@\{(index_)?digest\}$", "@sha256:" + "0" * 64, image)
    _reference(probe, t.key("image"), tag_required=False)
    output = t.string("output", None)
    app_image = t.string("app_image", None)
    base_image = t.string("base_image", None)
    previous = t.string("previous_image", None)
    named = (("output", output), ("app_image", app_image), ("base_image", base_image),
             ("previous_image", previous))  # fmt: skip
    for key, value in named:
        if value is not None:
            _reference(value, t.key(key), tag_required=True)
    only = {
        "output": ("export", "rebase"),
        "previous_image": ("export",),
        "app_image": ("rebase",),
        "base_image": ("rebase",),
        "force": ("rebase",),
    }
    for key, kinds in only.items():
        if t.has(key) and kind not in kinds:
            raise FormError(t.key(key), f"only applies to {' and '.join(kinds)} actions")
    if kind == "export" and output is None:
        raise FormError(t.key("output"), "is required for an export (where the app image is pushed)")
    if kind == "rebase":
        if app_image is None:
            raise FormError(t.key("app_image"), "is required for a rebase (the image to rebase)")
        if base_image is None:
            raise FormError(t.key("base_image"), "is required for a rebase (the app's old run image)")
    platform = t.raw("platform", None)
    action = Action(
        kind=kind,
        image=image,
        profile=t.string("profile", "ggcr-v0.21.9", choices=PROFILES),
        delays=t.array("delays", check_number, LIFECYCLE_DELAYS),
        platform=_platform(platform, t.key("platform")) if platform is not None else None,
        output=output,
        app_image=app_image,
        base_image=base_image,
        previous_image=previous,
        force=t.boolean("force", False),
        seed=t.integer("seed", 0),
    )
    t.done()
    return action


# -- values ------------------------------------------------------------------------------------


def _reference(text: str, path: tuple, *, tag_required: bool) -> Reference:
    try:
        ref = Reference.parse(text)
    except InvalidReferenceError as e:
        raise FormError(path, str(e)) from e
    if ref.registry is not None:
        raise FormError(
            path,
            f"{toml_value(text)} names a registry; give 'repo:tag' (the runner adds the mirror's host)",
        )
    if tag_required and (ref.tag is None or ref.digest is not None):
        raise FormError(path, f"{toml_value(text)} must be 'repo:tag'")
    if ref.tag is None and ref.digest is None:
        raise FormError(
            path, f"{toml_value(text)} needs a tag or a digest ('repo:tag' or 'repo@sha256:…')"
        )
    return ref


def _platform(value: Any, path: tuple) -> str:
    text = check_str(value, path)
    if not _PLATFORM_RE.match(text):
        raise FormError(
            path, f"invalid platform {toml_value(text)}: expected 'os/arch' or 'os/arch/variant'"
        )
    return text
