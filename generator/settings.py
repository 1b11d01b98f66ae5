"""Load and validate the catalog settings (``products/catalog.toml``).

The file is the one place that says what the catalog contains: the portfolio, each product with its
version and a change note per version, the regions, the SSM prefix under which the administrator's
settings live, and the publishing policy.  Everything is validated on load; an unknown key, a bad
version string or a missing field is a ``ConfigError`` naming the file, the key and what is allowed.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from generator.errors import ConfigError

DEFAULT_SETTINGS = Path(__file__).resolve().parent.parent / "products" / "catalog.toml"

SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
PRODUCT_NAME = re.compile(r"^[a-z][a-z0-9-]{1,62}$")
SSM_PREFIX = re.compile(r"^(/[A-Za-z0-9_.-]+)+$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# AWS Organizations ids (AWS Organizations API Reference: RootId, OrganizationalUnitId patterns).
ROOT_ID = re.compile(r"^r-[0-9a-z]{4,32}$")
OU_ID = re.compile(r"^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$")
ENVIRONMENT_NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
# An IAM role name (IAM API Reference, CreateRole: RoleName pattern).
ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
CONCURRENCY_MODES = {"strict": "STRICT_FAILURE_TOLERANCE", "soft": "SOFT_FAILURE_TOLERANCE"}
CALL_AS = ("SELF", "DELEGATED_ADMIN")


def version_key(version: str) -> tuple[int, int, int]:
    """Sort key of a MAJOR.MINOR.PATCH version string."""
    m = SEMVER.match(version)
    if not m:
        raise ValueError(f"not a MAJOR.MINOR.PATCH version: {version!r}")
    return tuple(int(p) for p in m.groups())  # type: ignore[return-value]


@dataclass(frozen=True)
class PortfolioSettings:
    name: str
    description: str
    provider: str


@dataclass(frozen=True)
class PublishSettings:
    # How many of the newest versions of a product stay launchable; older ones get Guidance DEPRECATED.
    active_versions: int = 2
    # How many of the newest versions stay visible at all; older ones are hidden (Active=false).
    visible_versions: int = 4
    # Regions published in parallel at most.
    max_parallel_regions: int = 4
    # Seconds to wait for a new provisioning artifact to become AVAILABLE.
    artifact_wait_seconds: int = 300
    # IAM principals (besides the HealthcareDeveloper group) given access to the portfolio.
    extra_principals: tuple[str, ...] = ()


@dataclass(frozen=True)
class OrganizationSettings:
    """Where the catalog, the baseline and the launch role go in an AWS Organization (``[organization]``).

    ``targets`` maps an environment name (a label, e.g. ``prod``) to the organizational unit ids, or the
    root id for the whole organisation, of that environment.  The portfolio is shared with every target
    and the StackSets deploy to every target, in ``regions`` (a subset of the catalog's, with its primary).
    """

    targets: Mapping[str, tuple[str, ...]]
    regions: tuple[str, ...] = ()     # default: every catalog region
    # StackSetOperationPreferences (AWS CloudFormation API Reference): MaxConcurrentCount,
    # FailureToleranceCount, ConcurrencyMode.  They do not apply to automatic deployments.
    max_concurrent_accounts: int = 10
    failure_tolerance: int = 0
    concurrency_mode: str = "soft"
    # AutoDeployment: new accounts of a target OU get the stacks; an account leaving keeps them (the default,
    # as for an OU removed from the targets: its trail, Config and alarms go on) or has them deleted (the
    # evidence resources are Retain either way).  Only with auto_deployment.
    auto_deployment: bool = True
    retain_stacks_on_account_removal: bool = True
    # CallAs of the StackSets calls: SELF in the management account, DELEGATED_ADMIN in a delegated one.
    call_as: str = "SELF"
    # The role `hipaa-catalog accounts` assumes in a member account to read its provisioned products.
    member_role: str = "OrganizationAccountAccessRole"

    @property
    def target_ids(self) -> tuple[str, ...]:
        """Every target id once, in the order of the settings."""
        return tuple(dict.fromkeys(i for ids in self.targets.values() for i in ids))

    def environment_of(self, node_id: str) -> str:
        return next((env for env, ids in self.targets.items() if node_id in ids), "")


@dataclass(frozen=True)
class ProductSettings:
    name: str
    version: str
    description: str
    owner: str
    distributor: str = ""
    support_email: str = ""
    support_url: str = ""
    support_description: str = ""
    changes: Mapping[str, str] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def change_note(self) -> str:
        return self.changes[self.version]


@dataclass(frozen=True)
class Settings:
    path: Path
    name: str
    regions: tuple[str, ...]
    ssm_prefix: str
    portfolio: PortfolioSettings
    publish: PublishSettings
    products: Mapping[str, ProductSettings]
    organization: OrganizationSettings | None = None

    @property
    def primary_region(self) -> str:
        return self.regions[0]

    def require_region(self, region: str, who: str = "") -> str:
        """``region`` if it is a catalog region, else a ``ConfigError`` listing the allowed ones (checked before
        any AWS call: a region outside the catalog has none of its products, and a name that is no region at
        all would only fail later, in the network or in AWS's signature check)."""
        if region not in self.regions:
            raise ConfigError(f"{who + ': ' if who else ''}region {region} is not a catalog region; allowed: "
                              f"{', '.join(self.regions)}",
                              hint=f"pass --region (or set AWS_REGION) with one of them, or add the region to "
                                   f"catalog.regions in {self.path} and run `make build`")
        return region


def _fail(path: Path, key: str, problem: str, allowed: str) -> ConfigError:
    return ConfigError(f"{path}: {key}: {problem}; allowed: {allowed}",
                       hint="fix the catalog settings file and run again")


def _check_keys(path: Path, where: str, data: Mapping[str, Any], cls, exclude: tuple[str, ...] = ()) -> None:
    """Refuse unknown keys and report missing required ones, naming the file and the key."""
    if not isinstance(data, Mapping):
        raise _fail(path, where, f"expected a table, found {type(data).__name__}", "a TOML table")
    fields = [f for f in dataclasses.fields(cls) if f.name not in exclude]
    names = sorted(f.name for f in fields)
    for key in data:
        if key not in names:
            raise _fail(path, f"{where}.{key}", "unknown key", ", ".join(names))
    for f in fields:
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if required and f.name not in data:
            raise _fail(path, f"{where}.{f.name}", "missing field", f"a value for {f.name}")


def _str(path: Path, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(path, key, f"expected a non-empty string, found {value!r}", "a non-empty string")
    return value


def _int(path: Path, key: str, value: Any, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise _fail(path, key, f"found {value!r}", f"a whole number from {low} to {high}")
    return value


def _product(path: Path, name: str, data: Mapping[str, Any]) -> ProductSettings:
    where = f"products.{name}"
    if not PRODUCT_NAME.match(name):
        raise _fail(path, where, f"bad product name {name!r}", "lower-case letters, digits and '-', 2-63 chars")
    _check_keys(path, where, data, ProductSettings, exclude=("name",))
    version = _str(path, f"{where}.version", data["version"])
    if not SEMVER.match(version):
        raise _fail(path, f"{where}.version", f"bad version string {version!r}", "MAJOR.MINOR.PATCH, e.g. 1.0.0")
    changes = data.get("changes", {})
    if not isinstance(changes, Mapping):
        raise _fail(path, f"{where}.changes", "expected a table", 'a table of "VERSION" = "one-line change note"')
    for v, note in changes.items():
        if not SEMVER.match(v):
            raise _fail(path, f"{where}.changes.{v}", f"bad version string {v!r}", "MAJOR.MINOR.PATCH")
        note = _str(path, f"{where}.changes.{v}", note)
        if "\n" in note.strip() or len(note) > 200:
            raise _fail(path, f"{where}.changes.{v}", "change note is not one line", "one line of at most 200 chars")
    if version not in changes:
        raise _fail(path, f"{where}.changes", f"no change note for the current version {version}",
                    f'a line "{version}" = "what changed" under [{where}.changes]')
    strings = {k: _str(path, f"{where}.{k}", data[k]) for k in
               ("description", "owner", "distributor", "support_email", "support_url", "support_description")
               if k in data}
    if strings.get("support_email") and not EMAIL.match(strings["support_email"]):
        raise _fail(path, f"{where}.support_email", f"not an e-mail address: {strings['support_email']!r}",
                    "name@example.org")
    if strings.get("support_url") and not strings["support_url"].startswith("https://"):
        raise _fail(path, f"{where}.support_url", f"not an https URL: {strings['support_url']!r}", "https://…")
    options = data.get("options", {})
    if not isinstance(options, Mapping):
        raise _fail(path, f"{where}.options", "expected a table", "a table of product-specific options")
    return ProductSettings(name=name, version=version, changes=dict(changes), options=dict(options), **strings)


def _bool(path: Path, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _fail(path, key, f"found {value!r}", "true or false")
    return value


def _choice(path: Path, key: str, value: Any, allowed) -> str:
    if value not in allowed:
        raise _fail(path, key, f"found {value!r}", ", ".join(allowed))
    return value


def _organization(path: Path, data: Any, regions: tuple[str, ...]) -> OrganizationSettings:
    _check_keys(path, "organization", data, OrganizationSettings)
    targets = data["targets"]
    if not isinstance(targets, Mapping) or not targets:
        raise _fail(path, "organization.targets", f"found {targets!r}",
                    'a table of environment = ["ou-…" or "r-…", …], e.g. prod = ["ou-ab12-cd34ef56"]')
    seen: dict[str, str] = {}
    parsed: dict[str, tuple[str, ...]] = {}
    for env, ids in targets.items():
        key = f"organization.targets.{env}"
        if not ENVIRONMENT_NAME.match(env):
            raise _fail(path, key, f"bad environment name {env!r}", "lower-case letters, digits and '-', 1-32 chars")
        if not isinstance(ids, list) or not ids:
            raise _fail(path, key, f"found {ids!r}", "a non-empty list of organizational unit ids (ou-…) or the root "
                                                      "id (r-…)")
        for node in ids:
            if not isinstance(node, str) or not (OU_ID.match(node) or ROOT_ID.match(node)):
                raise _fail(path, key, f"not an organizational unit or root id: {node!r}",
                            "ou-<root part>-<8 to 32 letters or digits> (an OU) or r-<4 to 32> (the root, "
                            "the whole organisation)")
            if node in seen:
                raise _fail(path, key, f"{node} is already a target of {seen[node]}", "each id in one environment")
            seen[node] = env
        parsed[env] = tuple(ids)
    roots = [n for n in seen if ROOT_ID.match(n)]
    if roots and len(seen) > 1:
        raise _fail(path, "organization.targets", f"the root {roots[0]} is the whole organisation, so the other "
                    "targets add nothing", "either the root id alone or organizational unit ids")
    org_regions = data.get("regions", list(regions))
    if not isinstance(org_regions, list) or not org_regions:
        raise _fail(path, "organization.regions", f"found {org_regions!r}", "a non-empty list of catalog regions")
    for r in org_regions:
        if r not in regions:
            raise _fail(path, "organization.regions", f"{r!r} is not a catalog region", ", ".join(regions))
    if len(set(org_regions)) != len(org_regions):
        raise _fail(path, "organization.regions", "a region is listed twice", "each region once")
    if regions[0] not in org_regions:
        raise _fail(path, "organization.regions", f"the primary region {regions[0]} is missing (the account-global "
                    "resources and the launch role are deployed there)", f"a list containing {regions[0]}")
    kwargs: dict[str, Any] = {}
    if "max_concurrent_accounts" in data:
        kwargs["max_concurrent_accounts"] = _int(path, "organization.max_concurrent_accounts",
                                                 data["max_concurrent_accounts"], 1, 1000)
    if "failure_tolerance" in data:
        kwargs["failure_tolerance"] = _int(path, "organization.failure_tolerance", data["failure_tolerance"], 0, 1000)
    if "concurrency_mode" in data:
        kwargs["concurrency_mode"] = _choice(path, "organization.concurrency_mode", data["concurrency_mode"],
                                             list(CONCURRENCY_MODES))
    for key in ("auto_deployment", "retain_stacks_on_account_removal"):
        if key in data:
            kwargs[key] = _bool(path, f"organization.{key}", data[key])
    if kwargs.get("auto_deployment") is False:
        kwargs.setdefault("retain_stacks_on_account_removal", False)   # there is no removal to retain on
    if "call_as" in data:
        kwargs["call_as"] = _choice(path, "organization.call_as", data["call_as"], CALL_AS)
    if "member_role" in data:
        role = _str(path, "organization.member_role", data["member_role"])
        if not ROLE_NAME.match(role):
            raise _fail(path, "organization.member_role", f"not an IAM role name: {role!r}",
                        "1-64 letters, digits and +=,.@_-")
        kwargs["member_role"] = role
    org = OrganizationSettings(targets=parsed, regions=tuple(org_regions), **kwargs)
    if org.retain_stacks_on_account_removal and not org.auto_deployment:
        raise _fail(path, "organization.retain_stacks_on_account_removal", "set without auto_deployment",
                    "true only with auto_deployment = true (AutoDeployment, AWS CloudFormation API Reference)")
    return org


def parse(data: Mapping[str, Any], path: Path) -> Settings:
    """Validate the parsed TOML ``data`` read from ``path``."""
    allowed = ["catalog", "portfolio", "publish", "products", "organization"]
    for key in data:
        if key not in allowed:
            raise _fail(path, key, "unknown section", ", ".join(allowed))
    for key in ("catalog", "portfolio", "products"):
        if key not in data:
            raise _fail(path, key, "missing section", f"a [{key}] table")

    cat = data["catalog"]
    if not isinstance(cat, Mapping):
        raise _fail(path, "catalog", "expected a table", "a [catalog] table")
    for key in cat:
        if key not in ("name", "regions", "ssm_prefix"):
            raise _fail(path, f"catalog.{key}", "unknown key", "name, regions, ssm_prefix")
    for key in ("name", "regions", "ssm_prefix"):
        if key not in cat:
            raise _fail(path, f"catalog.{key}", "missing field", f"a value for {key}")
    name = _str(path, "catalog.name", cat["name"])
    regions = cat["regions"]
    if not isinstance(regions, list) or not regions:
        raise _fail(path, "catalog.regions", f"found {regions!r}", 'a non-empty list such as ["us-east-1"]')
    for r in regions:
        if not isinstance(r, str) or not REGION.match(r):
            raise _fail(path, "catalog.regions", f"bad region {r!r}", "AWS region names such as us-east-1")
    if len(set(regions)) != len(regions):
        raise _fail(path, "catalog.regions", "a region is listed twice", "each region once")
    prefix = _str(path, "catalog.ssm_prefix", cat["ssm_prefix"])
    if not SSM_PREFIX.match(prefix):
        raise _fail(path, "catalog.ssm_prefix", f"bad SSM prefix {prefix!r}", "a path such as /hipaa-catalog")

    _check_keys(path, "portfolio", data["portfolio"], PortfolioSettings)
    portfolio = PortfolioSettings(**{k: _str(path, f"portfolio.{k}", v) for k, v in data["portfolio"].items()})

    pub = data.get("publish", {})
    _check_keys(path, "publish", pub, PublishSettings)
    pub_kwargs: dict[str, Any] = {}
    for key, (low, high) in {"active_versions": (1, 100), "visible_versions": (1, 100),
                             "max_parallel_regions": (1, 32), "artifact_wait_seconds": (1, 3600)}.items():
        if key in pub:
            pub_kwargs[key] = _int(path, f"publish.{key}", pub[key], low, high)
    if "extra_principals" in pub:
        princ = pub["extra_principals"]
        if not isinstance(princ, list) or not all(isinstance(p, str) and p.startswith("arn:") for p in princ):
            raise _fail(path, "publish.extra_principals", f"found {princ!r}", "a list of IAM ARNs")
        pub_kwargs["extra_principals"] = tuple(princ)
    publish = PublishSettings(**pub_kwargs)
    if publish.visible_versions < publish.active_versions:
        raise _fail(path, "publish.visible_versions", f"{publish.visible_versions} is below active_versions "
                    f"{publish.active_versions}", "a number >= active_versions")

    prods = data["products"]
    if not isinstance(prods, Mapping) or not prods:
        raise _fail(path, "products", "no products", "one [products.NAME] table per product")
    products = {n: _product(path, n, p) for n, p in prods.items()}
    organization = _organization(path, data["organization"], tuple(regions)) if "organization" in data else None
    return Settings(path=path, name=name, regions=tuple(regions), ssm_prefix=prefix, portfolio=portfolio,
                    publish=publish, products=products, organization=organization)


def load(path: str | Path | None = None) -> Settings:
    """Read and validate the catalog settings file (default: ``products/catalog.toml``)."""
    path = Path(path) if path else DEFAULT_SETTINGS
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the catalog settings: {exc.strerror}",
                          hint="pass --settings PATH or restore products/catalog.toml") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}", hint="fix the syntax and run again") from exc
    return parse(data, path)
