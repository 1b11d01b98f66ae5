"""``make bench``: how fast the pipeline builds and publishes, next to what people would run instead, held to targets.

Measured in one run (``python -m generator.devtools.bench``; ``--help`` for the knobs):

- **build**: the real catalog and ``--variants`` (50) generated web-server variants (the product with
  different build options: instance families, sizes, volume sizes, retention).  Ours (``hipaa-catalog
  build``: render, lint with cfn-lint and the HIPAA rules in every scenario on the worker processes,
  reports, catalog page) from an empty output folder, alternating ``--rounds`` (5) times with the **fair
  anchor**: what an experienced user would run instead, one Python process rendering every template,
  then one ``cfn-lint -a generator/compliance/rules --regions ...`` process over all of them (the same
  regions).  Medians of wall time and of CPU time (user + sys of the process and its children, from
  ``wait4``: the fairer comparison on a shared machine), the load average at each run, the ratios.
  Where the time goes: our build's own timings (``HIPAA_CATALOG_TIMINGS``: rendering, rule-set loading,
  linting, reports) and one lint pass measured apart (importing cfn-lint, loading the rules, its schema
  checks, the HIPAA rules).  ``--per-template`` adds the per-template way (one render and one cfn-lint
  process per template) as another row.
- **no-change rebuild**: the same build again, nothing changed (median of ``--repeat`` runs); its
  output must stay byte-identical.  **One product changed**: the first variant's options changed, rebuilt;
  what was linted and rewritten, from the build's timings.
- **publish** against the local AWS endpoint with ``--latency-ms`` (20) per call: the first publish of
  ``--products`` × ``--regions`` (6 × 3), a no-change re-publish and a re-publish with one product
  bumped; API calls by operation as the endpoint logged them (reads vs writes); the naive way
  (``aws s3 cp`` + ``aws servicecatalog create-provisioning-artifact`` for every product in every
  region, on every run); and scaling: first publishes with 1, 2 and 4 regions (each single region
  alone too) at fixed products, and N vs 2N products at fixed regions.

Targets (:func:`evaluate`; the exit code is 1 when one is missed):

- a cold build of the real catalog takes at most ``CATALOG_RATIO_MAX`` (0.6) of the fair anchor's wall
  time, and of the variants at most ``VARIANTS_RATIO_MAX`` (0.5);
- a no-change rebuild of the whole catalog takes under ``NO_CHANGE_BUILD_MAX_S`` (0.5 s);
- changing one variant lints only it and rewrites only its reports and the catalog page;
- a no-change publish makes no write call and at most ``READS_PER_PRODUCT_REGION_MAX`` (2) read calls
  per product and region (all reads, including the once-per-run ones, divided by products × regions);
- a one-product-changed publish writes exactly one ``PutObject``, one ``CreateProvisioningArtifact`` and
  one ``UpdateProvisioningArtifact`` (the confirmation once it is AVAILABLE) per region, and nothing else;
- linear: doubling the work at most multiplies the time by ``LINEAR_FACTOR_MAX`` (2.5): 2N vs N
  products, 2 vs 1 and 4 vs 2 regions;
- parallel: publishing to several regions takes less than ``PARALLEL_FRACTION_MAX`` (0.7) of the sum
  of publishing to each region alone.

The organisation case (``generator/devtools/bench_org.py``, ``--org-accounts``; ``--skip-org`` leaves it
out) adds its own measurements and targets.

Results: a table on stdout, progress on stderr, ``build/bench.json`` with the core count, the load
average and the tool versions.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from generator import toolinfo
from generator.pipeline.manifest import BUILD_DIR
from generator.pipeline.workers import TIMINGS_ENV

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DEFAULT_RESULT = BUILD_DIR / "bench.json"

CATALOG_RATIO_MAX = 0.6
VARIANTS_RATIO_MAX = 0.5
NO_CHANGE_BUILD_MAX_S = 0.5
READS_PER_PRODUCT_REGION_MAX = 2.0
LINEAR_FACTOR_MAX = 2.5
PARALLEL_FRACTION_MAX = 0.7

VARIANT_PREFIX = "web-variant-"
PUBLISH_REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1")
TOOLS = ("cfn-lint", "troposphere", "awacs", "boto3", "botocore", "moto", "awscli", "cfn-flip", "PyYAML")

Progress = Callable[[str], None]


def _say(message: str) -> None:
    print(f"  {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


# --- running and measuring a process ----------------------------------------------------------------

@dataclass
class Proc:
    seconds: float
    rss_mb: float
    returncode: int
    output: str = ""
    cpu_s: float = 0.0      # user + sys of it and its children (from wait4)
    load: float = 0.0       # 1-minute load average when it started


def run_measured(cmd: Sequence[str], env: Mapping[str, str] | None = None, cwd: Path = ROOT) -> Proc:
    """Run ``cmd``; its wall time, its peak RSS (largest of it and its children, from wait4) and output."""
    load = _load()
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(list(cmd), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=str(cwd), env=dict(env) if env is not None else None)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    return Proc(seconds, usage.ru_maxrss / 1024.0, proc.returncode, text, usage.ru_utime + usage.ru_stime, load)


def _load() -> float:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return 0.0


@dataclass
class Measured:
    """One way of doing a job: total wall time, peak RSS of the largest process, processes started."""

    seconds: float = 0.0
    rss_mb: float = 0.0
    processes: int = 0
    failures: list[str] = field(default_factory=list)
    cpu_s: float = 0.0
    load: float = 0.0       # load average when the first process started

    def add(self, p: Proc, what: str) -> Proc:
        if not self.processes:
            self.load = p.load
        self.seconds += p.seconds
        self.cpu_s += p.cpu_s
        self.rss_mb = max(self.rss_mb, p.rss_mb)
        self.processes += 1
        if p.returncode != 0:
            self.failures.append(f"{what}: exit {p.returncode}: {p.output.strip()[-400:]}")
        return p


# --- the catalogs to build ------------------------------------------------------------------------

def _toml(value: Any) -> str:
    return json.dumps(value)   # strings, ints and lists of strings are written the same in TOML


def variant_options(i: int) -> dict[str, Any]:
    """Build options of the i-th web-server variant (every one gives a different template)."""
    from generator.blocks.logs import RETENTION_VALUES

    families = [["t3", "m6i"], ["t3", "t3a", "m5"], ["t3", "c6i", "r6i"], ["t3", "m7i", "c7i", "r7i"],
                ["t3", "t3a", "m5", "m6i", "m7i", "c5", "c6i", "c7i", "r5", "r6i", "r7i"]][i % 5]
    return {"instance_families": families, "max_instance_size": ["large", "xlarge", "2xlarge", "4xlarge"][i % 4],
            "root_volume_gib": 20 + i, "phi_volume_gib": 50 + 5 * i, "backup_retention_days": 7 + i,
            "log_retention_days": RETENTION_VALUES[i % len(RETENTION_VALUES)]}


def variant_settings_text(count: int, regions: Sequence[str], ssm_prefix: str, changed: int | None = None) -> str:
    """Settings of ``count`` variants; the ``changed``-th (0-based) with a bigger root volume."""
    lines = ["[catalog]", 'name = "bench-variants"', f"regions = {_toml(list(regions))}",
             f"ssm_prefix = {_toml(ssm_prefix)}", "", "[portfolio]", 'name = "Bench variants"',
             'description = "Generated web-server variants (make bench)"', 'provider = "make bench"']
    for i in range(count):
        name = f"{VARIANT_PREFIX}{i + 1:02d}"
        lines += ["", f"[products.{name}]", 'version = "1.0.0"', f'description = "Web server variant {i + 1}"',
                  'owner = "make bench"', f"[products.{name}.changes]", f'"1.0.0" = "variant {i + 1}"',
                  f"[products.{name}.options]"]
        options = variant_options(i)
        if i == changed:
            options["root_volume_gib"] += 100
        lines += [f"{k} = {_toml(v)}" for k, v in options.items()]
    return "\n".join(lines) + "\n"


def write_variant_settings(directory: Path, count: int) -> Path:
    """A catalog settings file of ``count`` web-server variants, with the real catalog's regions."""
    from generator import settings as catalog_settings

    real = catalog_settings.load()
    path = Path(directory) / "variants.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(variant_settings_text(count, real.regions, real.ssm_prefix), encoding="utf-8")
    return path


def variant_registry(settings) -> dict:
    """Every product of a variants settings file, built by the web server's build function."""
    from generator.product import ProductSpec
    from products import web_server

    return {name: ProductSpec(name=name, title=f"Web server variant {name[len(VARIANT_PREFIX):]}", kind="product",
                              build=web_server.SPEC.build, make_config=web_server.SPEC.make_config)
            for name in settings.products}


def _registry_for(settings, variants: bool):
    return variant_registry(settings) if variants else None


def upto(settings, registry, name: str):
    """Settings and registry cut after ``name``: what rendering that one template needs (a spec may read
    the templates registered before it, as the launch role does)."""
    import dataclasses

    if registry is None:
        from products.registry import REGISTRY as registry  # noqa: N811
    names = list(registry)
    if name not in names:
        from generator.errors import ConfigError

        raise ConfigError(f"unknown product {name}; known: {', '.join(names)}")
    keep = names[:names.index(name) + 1] if not name.startswith(VARIANT_PREFIX) else [name]
    return (dataclasses.replace(settings, products={n: settings.products[n] for n in keep}),
            {n: registry[n] for n in keep})


# --- build: ours vs naive ---------------------------------------------------------------------------

def _python(*args: str) -> list[str]:
    return [sys.executable, "-m", "generator.devtools.bench", *args]


def build_ours(settings_path: Path | None, out: Path, variants: bool, timings: Path | None = None) -> Measured:
    """Our pipeline (the CLI for the real catalog); ``timings``: where it writes where its time went."""
    m = Measured()
    if variants:
        cmd = _python("build-one-process", "--settings", str(settings_path), "--out", str(out), "--variants")
    else:
        cmd = [str(BIN / "hipaa-catalog")] + (["--settings", str(settings_path)] if settings_path else []) + \
            ["build", "--out", str(out)]
    env = dict(os.environ, **({TIMINGS_ENV: str(timings)} if timings else {}))
    m.add(run_measured(cmd, env=env), "build")
    return m


def render_once(settings_path: Path | None, out: Path, variants: bool) -> Measured:
    """The fair anchor's first step: one Python process rendering every template into ``out``."""
    m = Measured()
    cmd = _python("render-all", "--out", str(out)) + (["--settings", str(settings_path)] if settings_path else []) + \
        (["--variants"] if variants else [])
    m.add(run_measured(cmd), "render")
    return m


def lint_once(templates: Sequence[Path], regions: Sequence[str]) -> Measured:
    """The fair anchor's second step: one cfn-lint process with the project's rules over every template."""
    from generator.compliance.lint import RULES_DIR

    m = Measured()
    m.add(run_measured([str(BIN / "cfn-lint"), "-a", str(RULES_DIR), "--regions", *regions, "--",
                        *map(str, templates)]), "cfn-lint")
    return m


def build_naive(settings_path: Path | None, names: Sequence[str], regions: Sequence[str], out: Path,
                variants: bool, progress: Progress = _say) -> Measured:
    """One Python process rendering each template, then one cfn-lint process per template."""
    m = Measured()
    out.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names, 1):
        path = out / f"{name}.json"
        cmd = _python("render-one", "--product", name, "--out", str(path)) + \
            (["--settings", str(settings_path)] if settings_path else []) + (["--variants"] if variants else [])
        m.add(run_measured(cmd), f"render {name}")
        lint = lint_once([path], regions)
        m.add(Proc(lint.seconds, lint.rss_mb, 0, cpu_s=lint.cpu_s), f"cfn-lint {name}")
        m.failures += lint.failures
        if i % 10 == 0 or i == len(names):
            progress(f"per template: {i}/{len(names)} templates, {m.seconds:.1f} s so far")
    return m


def snapshot(out: Path) -> dict[str, str]:
    """sha256 of every file of a build output (the cache excluded)."""
    from generator.pipeline.cache import CACHE_DIR, sha256_bytes

    return {p.relative_to(out).as_posix(): sha256_bytes(p.read_bytes()) for p in sorted(Path(out).rglob("*"))
            if p.is_file() and CACHE_DIR not in p.relative_to(out).parts}


def no_change(settings_path: Path | None, out: Path, variants: bool, repeat: int) -> dict:
    """Rebuild ``repeat`` times with nothing changed: seconds of each run, median, and whether the
    output stayed byte-identical."""
    before = snapshot(out)
    runs = []
    for _ in range(repeat):
        m = build_ours(settings_path, out, variants)
        runs.append(m)
    after = snapshot(out)
    return {"runs_s": [round(r.seconds, 3) for r in runs], "median_s": round(statistics.median(r.seconds for r in runs), 3),
            "cpu_s": round(statistics.median(r.cpu_s for r in runs), 3), "load": [r.load for r in runs],
            "rss_mb": round(max(r.rss_mb for r in runs), 1), "identical": before == after,
            "changed": sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k)),
            "failures": [f for r in runs for f in r.failures]}


def one_changed(settings_path: Path, out: Path, work: Path, count: int) -> dict:
    """Change the first variant's build options, rebuild: its time, and what was linted and rewritten
    (from the build's timings)."""
    from generator import settings as catalog_settings

    s = catalog_settings.load(settings_path)
    text = variant_settings_text(count, s.regions, s.ssm_prefix, changed=0)
    changed = settings_path.with_name("variants-one-changed.toml")
    changed.write_text(text, encoding="utf-8")
    timings = work / "timings-one-changed.json"
    m = build_ours(changed, out, True, timings)
    data = _read_timings(timings)
    linted = sorted(j["label"] for j in data.get("jobs", []) if j["kind"] == "lint")
    rewritten = sorted(j["label"] for j in data.get("jobs", []) if j["kind"] == "reports")
    return {"seconds": round(m.seconds, 3), "cpu_s": round(m.cpu_s, 3), "load": m.load, "linted": linted,
            "rewritten": rewritten, "expected_linted": [f"{VARIANT_PREFIX}01/1.0.0/template.json"],
            "expected_rewritten": sorted([f"{VARIANT_PREFIX}01/1.0.0", "catalog"]), "failures": m.failures}


def _read_timings(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _median(runs: Sequence[Measured], attr: str) -> float:
    return round(statistics.median(getattr(r, attr) for r in runs), 3)


def where_time_goes(timings: Sequence[Mapping], anchor: Mapping | None) -> dict:
    """Our build's time by part (medians over the cold runs' timings: wall in the build process, CPU in
    the workers), and the anchor's lint pass split into cfn-lint start-up, its schema checks, its other
    rules and ours (:func:`lint_parts`)."""
    def med(values):
        values = [v for v in values if v is not None]
        return round(statistics.median(values), 3) if values else 0.0

    ours = {"build process: start and imports (CPU)": med([t.get("process_start_cpu_s") for t in timings]),
            "build process: importing the renderer and the products (wall, while the loader starts)":
                med([t.get("phases_wall_s", {}).get("imports") for t in timings]),
            "rendering (wall)": med([t.get("phases_wall_s", {}).get("render") for t in timings]),
            "linting, waiting for the workers (wall)": med([t.get("phases_wall_s", {}).get("lint") for t in timings]),
            "reports and catalog page (wall)": med([t.get("phases_wall_s", {}).get("reports") for t in timings]),
            "manifest (wall)": med([t.get("phases_wall_s", {}).get("manifest") for t in timings]),
            "workers: loading cfn-lint and the rules (CPU, all workers)":
                med([t.get("jobs_cpu_s", {}).get("rule set") for t in timings]),
            "workers: linting (CPU, all workers)": med([t.get("jobs_cpu_s", {}).get("lint") for t in timings]),
            "build process: template.yaml while the workers lint (CPU)":
                med([t.get("jobs_cpu_s", {}).get("meanwhile") for t in timings]),
            "workers: reports (CPU, all workers)": med([t.get("jobs_cpu_s", {}).get("reports") for t in timings])}
    return {"ours": ours, "lint_parts": dict(anchor or {})}


LINT_PARTS_TEMPLATES = 5   # lint passes measured apart over at most this many templates (each pass 3 times)


def lint_parts(templates: Sequence[Path], regions: Sequence[str]) -> dict:
    """In a fresh process: CPU seconds of importing cfn-lint, loading its rules and ours, and a lint pass
    over (the first ``LINT_PARTS_TEMPLATES`` of) ``templates``, split into cfn-lint's schema checks (E1001
    and the child rules it runs) and the HIPAA rules, each found by leaving it out of the rule collection
    (cfn-lint runs every rule it holds and only filters the output by its ignore list, so the rule is
    removed, not ignored); warm passes, the least of three."""
    p = run_measured(_python("lint-parts", "--regions", *regions, "--templates",
                             *map(str, templates[:LINT_PARTS_TEMPLATES])))
    try:
        return json.loads(p.output.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"error": p.output.strip()[-300:]}


def _lint_parts_child(templates: Sequence[str], regions: Sequence[str]) -> dict:
    cpu = time.process_time
    out: dict[str, Any] = {"templates": len(templates), "python start (CPU)": round(cpu(), 3)}
    t = cpu()
    from cfnlint.config import ConfigMixIn
    from cfnlint.core import get_rules
    from cfnlint.decode.decode import decode_str
    from cfnlint.runner import run_template_by_data

    from generator.compliance.lint import RULES_DIR
    out["import cfn-lint (CPU)"] = round(cpu() - t, 3)
    t = cpu()
    theirs = get_rules([], [], [])
    out["load cfn-lint's rules (CPU)"] = round(cpu() - t, 3)
    t = cpu()
    everything = get_rules([str(RULES_DIR)], [], [])
    out["load cfn-lint's and the HIPAA rules (CPU)"] = round(cpu() - t, 3)
    no_schema = get_rules([str(RULES_DIR)], [], [])
    no_schema.rules.pop("E1001")   # ignoring it would not do: a rule with child rules stays registered
    texts = [Path(p).read_text(encoding="utf-8") for p in templates]

    def lint(rules) -> float:
        start = cpu()
        for text in texts:
            template, _ = decode_str(text)
            list(run_template_by_data(template, ConfigMixIn([], regions=list(regions)), rules))
        return cpu() - start

    out["lint, first pass (CPU)"] = round(lint(everything), 3)
    warm = min(lint(everything) for _ in range(3))
    out["lint, warm pass (CPU)"] = round(warm, 3)
    out["  of which schema checks, E1001 (CPU)"] = round(warm - min(lint(no_schema) for _ in range(3)), 3)
    out["  of which the HIPAA rules (CPU)"] = round(warm - min(lint(theirs) for _ in range(3)), 3)
    return out


def bench_build(work: Path, variants: int, repeat: int, rounds: int = 3, per_template: bool = False,
                real: bool = True, parts: bool = True, progress: Progress = _say) -> dict:
    """Cold builds (ours) alternating with the fair anchor (one render process, then one cfn-lint process
    over every template), ``rounds`` times each; medians of wall and CPU time; where the time goes
    (``parts``: with the lint pass measured apart); no-change rebuilds; for the variants, one product
    changed; optionally the per-template way."""
    from generator import settings as catalog_settings

    results: dict[str, Any] = {}
    cases = []
    if real:
        s = catalog_settings.load()
        cases.append(("catalog", None, list(s.products), list(s.regions), False))
    if variants:
        path = write_variant_settings(work, variants)
        s = catalog_settings.load(path)
        cases.append(("variants", path, list(s.products), list(s.regions), True))
    for label, settings_path, names, regions, is_variants in cases:
        out, rendered = work / f"ours-{label}", work / f"anchor-{label}"
        ours_runs, renders, lints, timings = [], [], [], []
        for r in range(rounds):
            shutil.rmtree(out, ignore_errors=True)
            shutil.rmtree(rendered, ignore_errors=True)
            progress(f"build {label} ({len(names)} templates), round {r + 1}/{rounds}: ours, cold")
            t_path = work / f"timings-{label}-{r}.json"
            ours_runs.append(build_ours(settings_path, out, is_variants, t_path))
            timings.append(_read_timings(t_path))
            progress(f"build {label}: ours {ours_runs[-1].seconds:.2f} s; the anchor: render once, one cfn-lint")
            renders.append(render_once(settings_path, rendered, is_variants))
            lints.append(lint_once(sorted(rendered.glob("*.json")), regions))
        anchor_s = statistics.median(a.seconds + b.seconds for a, b in zip(renders, lints))
        anchor_cpu = statistics.median(a.cpu_s + b.cpu_s for a, b in zip(renders, lints))
        ours_s, ours_cpu = _median(ours_runs, "seconds"), _median(ours_runs, "cpu_s")
        entry: dict[str, Any] = {
            "templates": len(names), "regions": regions, "rounds": rounds,
            "ours": {"seconds": ours_s, "cpu_s": ours_cpu, "runs_s": [round(m.seconds, 3) for m in ours_runs],
                     "load": [m.load for m in ours_runs], "rss_mb": max(m.rss_mb for m in ours_runs),
                     "failures": [f for m in ours_runs for f in m.failures]},
            "anchor": {"seconds": round(anchor_s, 3), "cpu_s": round(anchor_cpu, 3),
                       "render_s": _median(renders, "seconds"), "lint_s": _median(lints, "seconds"),
                       "runs_s": [round(a.seconds + b.seconds, 3) for a, b in zip(renders, lints)],
                       "load": [b.load for b in lints], "rss_mb": max(m.rss_mb for m in renders + lints),
                       "failures": [f for m in renders + lints for f in m.failures]},
            "ratio": round(ours_s / anchor_s, 3) if anchor_s else 0.0,
            "lint_only_ratio": round(ours_s / _median(lints, "seconds"), 3) if lints else 0.0,
            "cpu_ratio": round(ours_cpu / anchor_cpu, 3) if anchor_cpu else 0.0,
            "ours_per_template_s": round(ours_s / len(names), 3)}
        progress(f"build {label}: ours {ours_s:.2f} s vs anchor {anchor_s:.2f} s = {entry['ratio']:.2f}; "
                 f"where the time goes")
        entry["where"] = where_time_goes(timings, lint_parts(sorted(rendered.glob("*.json")), regions)
                                         if parts else None)
        progress(f"build {label}: no-change rebuild x{repeat}")
        entry["no_change"] = no_change(settings_path, out, is_variants, repeat)
        if is_variants:
            progress(f"build {label}: one product changed")
            entry["one_changed"] = one_changed(settings_path, out, work, len(names))
        if per_template:
            progress(f"build {label}: per template ({len(names)} render + {len(names)} cfn-lint processes)")
            theirs = build_naive(settings_path, names, regions, work / f"naive-{label}", is_variants, progress)
            entry["naive"] = asdict(theirs)
            entry["naive_ratio"] = round(ours_s / theirs.seconds, 3) if theirs.seconds else 0.0
        results[label] = entry
    return results


# --- publish: ours vs naive -------------------------------------------------------------------------

def setup_baseline(regions: Sequence[str], prefix: str) -> dict[str, str]:
    """What deploy-baseline leaves for the publisher: launch role, developer group, a template bucket and
    its SSM parameter per region.  Returns the buckets by region."""
    import boto3

    from generator.blocks import admin_settings

    iam = boto3.client("iam", region_name=regions[0])
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"Service": "servicecatalog.amazonaws.com"}}]}
    for create in (lambda: iam.create_role(RoleName=admin_settings.LAUNCH_ROLE_NAME,
                                           AssumeRolePolicyDocument=json.dumps(trust)),
                   lambda: iam.create_group(GroupName=admin_settings.DEVELOPER_GROUP)):
        try:
            create()
        except iam.exceptions.EntityAlreadyExistsException:
            pass
    buckets = {}
    for region in regions:
        bucket = f"bench-templates-{region}"
        s3 = boto3.client("s3", region_name=region)
        kw = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        try:
            s3.create_bucket(Bucket=bucket, **kw)
        except (s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
            pass
        boto3.client("ssm", region_name=region).put_parameter(
            Name=admin_settings.TEMPLATE_BUCKET.full_name(prefix), Value=bucket, Type="String", Overwrite=True)
        buckets[region] = bucket
    return buckets


@dataclass
class PublishCatalog:
    """A publishable catalog on disk: catalog.toml + build/manifest.json + templates (no lint needed)."""

    root: Path
    regions: Sequence[str]
    products: int
    body: str        # a real template; each product's copy differs in its Description
    prefix: str = "/bench"
    versions: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.versions = {f"bench-product-{i + 1:02d}": "1.0.0" for i in range(self.products)}

    @property
    def out(self) -> Path:
        return self.root / "build"

    def template(self, name: str, version: str) -> str:
        from generator.render import canonical_json

        data = json.loads(self.body)
        data["Description"] = f"{name} {version}: {data.get('Description', '')}"
        return canonical_json(data)

    def write(self):
        from generator import settings as catalog_settings
        from generator.pipeline import manifest as manifests

        lines = ["[catalog]", 'name = "bench"', f"regions = {_toml(list(self.regions))}",
                 f"ssm_prefix = {_toml(self.prefix)}", "", "[portfolio]", 'name = "Bench portfolio"',
                 'description = "make bench"', 'provider = "make bench"', "", "[publish]",
                 f"max_parallel_regions = {max(1, len(self.regions))}", "artifact_wait_seconds = 60"]
        entries = []
        for name, version in self.versions.items():
            lines += ["", f"[products.{name}]", f'version = "{version}"', f'description = "{name}"',
                      'owner = "make bench"', f"[products.{name}.changes]"]
            lines += [f'"{v}" = "release {v}"' for v in sorted({"1.0.0", version})]
            text = self.template(name, version)
            rel = f"{name}/{version}/template.json"
            (self.out / rel).parent.mkdir(parents=True, exist_ok=True)
            (self.out / rel).write_text(text, encoding="utf-8")
            entries.append(manifests.entry_for(name, version, f"release {version}", text))
        (self.root / "catalog.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
        manifests.write(self.out, manifests.Manifest(catalog="bench", regions=tuple(self.regions),
                                                     products=tuple(entries), sources_sha256="not checked"))
        return catalog_settings.load(self.root / "catalog.toml")


def count_calls(calls: Iterable[Mapping[str, str]]) -> dict:
    """Reads, writes and calls by operation, from the endpoint's call log."""
    from generator.aws.api import is_write

    by_op: dict[str, int] = {}
    reads = writes = 0
    for c in calls:
        key = f"{c['service']}:{c['operation']}"
        by_op[key] = by_op.get(key, 0) + 1
        if is_write(c["operation"]):
            writes += 1
        else:
            reads += 1
    return {"reads": reads, "writes": writes, "by_operation": dict(sorted(by_op.items()))}


def publish_once(endpoint, catalog: PublishCatalog) -> dict:
    """Publish ``catalog`` (ours); wall time and the calls the endpoint saw."""
    from generator.aws import publish as publisher

    settings = catalog.write()
    endpoint.reset_calls()
    start = time.perf_counter()
    report = publisher.publish(settings, out_dir=catalog.out, check_fresh=False)
    seconds = time.perf_counter() - start
    calls = count_calls(endpoint.calls())
    failed = [] if report.ok else [publisher.failure_summary(report)]
    return {"seconds": round(seconds, 3), **calls, "failures": failed,
            "per_product_region": {"reads": round(calls["reads"] / (catalog.products * len(catalog.regions)), 2),
                                   "writes": round(calls["writes"] / (catalog.products * len(catalog.regions)), 2)}}


def publish_naive(endpoint, catalog: PublishCatalog, buckets: Mapping[str, str]) -> dict:
    """``aws s3 cp`` + ``aws servicecatalog create-provisioning-artifact`` for every product in every region
    (the products already exist: the naive way creates them once by hand)."""
    import boto3

    ids: dict[tuple[str, str], str] = {}
    for region in catalog.regions:
        sc = boto3.client("servicecatalog", region_name=region)
        for page in sc.get_paginator("search_products_as_admin").paginate():
            for d in page["ProductViewDetails"]:
                s = d["ProductViewSummary"]
                if s["Name"] in catalog.versions:
                    ids[(region, s["Name"])] = s["ProductId"]
    env = dict(os.environ)
    run = time.strftime("%Y%m%d%H%M%S")
    m = Measured()
    endpoint.reset_calls()
    with tempfile.TemporaryDirectory() as tmp:
        for region in catalog.regions:
            for name, version in catalog.versions.items():
                path = Path(tmp) / f"{name}.json"
                path.write_text(catalog.template(name, version), encoding="utf-8")
                key = f"naive/{name}/{version}.json"
                url = f"{endpoint.url}/{buckets[region]}/{key}"
                common = ["--region", region, "--endpoint-url", endpoint.url]
                m.add(run_measured([str(BIN / "aws"), "s3", "cp", str(path), f"s3://{buckets[region]}/{key}",
                                    "--only-show-errors", *common], env=env), f"aws s3 cp {name} {region}")
                # a new artifact on every run, named like a CI build would (the endpoint refuses a name twice)
                params = {"Name": f"{version}-{run}", "Description": f"release {version}", "Type": "CLOUD_FORMATION_TEMPLATE",
                          "Info": {"LoadTemplateFromURL": url}}
                m.add(run_measured([str(BIN / "aws"), "servicecatalog", "create-provisioning-artifact",
                                    "--product-id", ids.get((region, name), "missing"),
                                    "--parameters", json.dumps(params), *common], env=env),
                      f"aws servicecatalog create-provisioning-artifact {name} {region}")
    calls = count_calls(endpoint.calls())
    return {"seconds": round(m.seconds, 3), "processes": m.processes, "rss_mb": round(m.rss_mb, 1), **calls,
            "failures": m.failures}


def _fresh(endpoint, regions: Sequence[str], latency_ms: int, prefix: str) -> dict[str, str]:
    endpoint.reset()
    buckets = setup_baseline(regions, prefix)
    endpoint.set_faults(latency_ms=latency_ms)
    return buckets


def bench_publish(endpoint, work: Path, body: str, products: int, regions: Sequence[str], latency_ms: int,
                  naive: bool = True, scaling: bool = True, progress: Progress = _say) -> dict:
    """The publish measurements against a running local endpoint (``generator.devtools.local_aws.LocalAws``).
    The endpoint is reset before each scenario (everything in it is lost)."""
    results: dict[str, Any] = {"products": products, "regions": list(regions), "latency_ms": latency_ms}
    cat = PublishCatalog(work / "publish-main", regions, products, body)
    buckets = _fresh(endpoint, regions, latency_ms, cat.prefix)
    progress(f"publish: first publish of {products} products x {len(regions)} regions")
    results["first"] = publish_once(endpoint, cat)
    progress(f"publish: first {results['first']['seconds']} s; no-change re-publish")
    results["no_change"] = publish_once(endpoint, cat)
    first_name = next(iter(cat.versions))
    cat.versions[first_name] = "1.1.0"
    progress("publish: one product changed")
    results["one_changed"] = publish_once(endpoint, cat)
    if naive:
        progress(f"publish: naive ({2 * products * len(regions)} aws CLI processes)")
        results["naive"] = publish_naive(endpoint, cat, buckets)
    if scaling:
        scale: dict[str, Any] = {}
        n = max(1, products // 2)
        runs = [(products, (r,)) for r in regions[:1]] + [(products, (r,)) for r in PUBLISH_REGIONS if r not in regions[:1]]
        runs += [(products, PUBLISH_REGIONS[:2]), (products, PUBLISH_REGIONS), (n, PUBLISH_REGIONS[:2])]
        for count, regs in runs:
            label = f"{count}x{'+'.join(regs)}"
            c = PublishCatalog(work / f"publish-{label}", regs, count, body)
            _fresh(endpoint, regs, latency_ms, c.prefix)
            r = publish_once(endpoint, c)
            progress(f"publish scaling: {count} products x {len(regs)} region(s) {'+'.join(regs)}: {r['seconds']} s")
            scale[label] = {"products": count, "regions": list(regs), "seconds": r["seconds"],
                            "reads": r["reads"], "writes": r["writes"], "failures": r["failures"]}
        results["scaling"] = scale
        results["scaling_keys"] = {"n": n, "two_n": products}
    endpoint.set_faults()
    return results


# --- targets ---------------------------------------------------------------------------------------

@dataclass
class Target:
    name: str
    definition: str
    measured: str
    ok: bool


def evaluate(results: Mapping) -> list[Target]:
    """Every target the results allow to check (a part that was not measured is not judged)."""
    out: list[Target] = []
    build = results.get("build", {})
    for label, limit in (("catalog", CATALOG_RATIO_MAX), ("variants", VARIANTS_RATIO_MAX)):
        e = build.get(label)
        if e and "anchor" in e:
            out.append(Target(f"cold build, {label}", f"{e['templates']} templates, empty cache: wall time <= {limit:g} x "
                              "the fair anchor's (one render process, then one cfn-lint process with the project's "
                              "rules over every template, the same regions; medians of alternating runs)",
                              f"{e['ratio']:.2f}x ({e['ours']['seconds']:.2f} s vs {e['anchor']['seconds']:.2f} s; "
                              f"CPU {e['cpu_ratio']:.2f}x; load {_loads(e)})", e["ratio"] <= limit))
    c = build.get("catalog")
    if c:
        nc = c["no_change"]
        out.append(Target("no-change rebuild", f"whole catalog ({c['templates']} templates) rebuilt with nothing "
                          f"changed in < {NO_CHANGE_BUILD_MAX_S:g} s (median), output byte-identical",
                          f"{nc['median_s']:.2f} s, {'identical' if nc['identical'] else 'CHANGED'}",
                          nc["median_s"] < NO_CHANGE_BUILD_MAX_S and nc["identical"] and not nc["failures"]))
    v = build.get("variants")
    if v and "one_changed" in v:
        oc = v["one_changed"]
        out.append(Target("one product changed", "a rebuild after changing one variant lints only it and rewrites "
                          "only its reports and the catalog page", f"{oc['seconds']:.2f} s; linted {', '.join(oc['linted']) or 'nothing'}; "
                          f"rewrote {', '.join(oc['rewritten']) or 'nothing'}",
                          oc["linted"] == oc["expected_linted"] and oc["rewritten"] == oc["expected_rewritten"]
                          and not oc["failures"]))
    for label, entry in build.items():
        failures = [f for part in ("ours", "anchor", "naive") for f in entry.get(part, {}).get("failures", [])]
        if failures:
            out.append(Target(f"build {label} ran clean", "every process exited 0", "; ".join(failures)[:300], False))
    p = results.get("publish")
    if p:
        pr = p["products"] * len(p["regions"])
        nc = p["no_change"]
        out.append(Target("no-change publish", f"0 writes and <= {READS_PER_PRODUCT_REGION_MAX:g} reads per product and "
                          f"region ({p['products']} x {len(p['regions'])}: <= {int(READS_PER_PRODUCT_REGION_MAX * pr)})",
                          f"{nc['writes']} writes, {nc['reads']} reads ({nc['reads'] / pr:.2f} per product and region)",
                          nc["writes"] == 0 and nc["reads"] <= READS_PER_PRODUCT_REGION_MAX * pr and not nc["failures"]))
        oc = p["one_changed"]
        writes = {k: n for k, n in oc["by_operation"].items() if _is_write_key(k)}
        want = {"s3:PutObject": len(p["regions"]), "servicecatalog:CreateProvisioningArtifact": len(p["regions"]),
                "servicecatalog:UpdateProvisioningArtifact": len(p["regions"])}
        out.append(Target("one-product-changed publish", "per region exactly 1 PutObject + 1 CreateProvisioningArtifact "
                          "+ 1 UpdateProvisioningArtifact (confirmation), no other write", ", ".join(f"{k} {n}" for k, n in writes.items()) or "no writes",
                          writes == want and not oc["failures"]))
        for key in ("first", "no_change", "one_changed"):
            if p[key]["failures"]:
                out.append(Target(f"publish {key} ok", "the publish report is ok", p[key]["failures"][0][:300], False))
        s = p.get("scaling")
        if s:
            out.extend(_scaling_targets(s, p["scaling_keys"]))
    from generator.devtools import bench_org

    out.extend(bench_org.targets(results))
    return out


def _loads(entry: Mapping) -> str:
    loads = entry["ours"].get("load", []) + entry["anchor"].get("load", [])
    return f"{min(loads):.1f}-{max(loads):.1f}" if loads else "?"


def _is_write_key(key: str) -> bool:
    from generator.aws.api import is_write

    return is_write(key.split(":", 1)[1])


def _scaling_targets(s: Mapping, keys: Mapping) -> list[Target]:
    out = []
    two_n, n = keys["two_n"], keys["n"]
    by = {(e["products"], tuple(e["regions"])): e["seconds"] for e in s.values()}
    r1, r2, r4 = PUBLISH_REGIONS[:1], PUBLISH_REGIONS[:2], PUBLISH_REGIONS
    singles = {r: by.get((two_n, (r,))) for r in PUBLISH_REGIONS}
    checks = [(f"products {n} -> {two_n} (2 regions)", by.get((n, r2)), by.get((two_n, r2))),
              ("regions 1 -> 2", by.get((two_n, r1)), by.get((two_n, r2))),
              ("regions 2 -> 4", by.get((two_n, r2)), by.get((two_n, r4)))]
    for label, small, big in checks:
        if small and big:
            out.append(Target(f"linear: {label}", f"time(2x work) <= {LINEAR_FACTOR_MAX:g} x time(x)",
                              f"{big:.2f} s vs {small:.2f} s = {big / small:.2f}x", big <= LINEAR_FACTOR_MAX * small))
    for regs in (r2, r4):
        multi = by.get((two_n, regs))
        parts = [singles.get(r) for r in regs]
        if multi and all(parts):
            total = sum(parts)
            out.append(Target(f"parallel: {len(regs)} regions", f"time < {PARALLEL_FRACTION_MAX:g} x sum of the "
                              "single-region times", f"{multi:.2f} s vs sum {total:.2f} s = {multi / total:.2f}",
                              multi < PARALLEL_FRACTION_MAX * total))
    return out


# --- output ----------------------------------------------------------------------------------------

def environment() -> dict:
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = []
    return {"cores": os.cpu_count(), "load_average_at_start": load, "python": sys.version.split()[0],
            "platform": sys.platform, "tools": {t: toolinfo.version(t) for t in TOOLS},
            "dot": shutil.which("dot") is not None}


def _row(*cells: Any) -> tuple[str, ...]:
    return tuple(str(c) for c in cells)


def render_table(results: Mapping, targets: Sequence[Target]) -> str:
    from generator.cli.output import table

    parts = []
    env = results["environment"]
    parts.append(f"make bench: {env['cores']} cores, load average {env['load_average_at_start']}, "
                 f"python {env['python']}, " + ", ".join(f"{k} {v}" for k, v in env["tools"].items() if v))
    rows = []
    for label, e in results.get("build", {}).items():
        o, a = e["ours"], e["anchor"]
        rows.append(_row(f"build {label} ({e['templates']} templates), cold", f"{o['seconds']:.2f}", f"{o['cpu_s']:.2f}",
                         f"{a['seconds']:.2f} ({a['render_s']:.2f} + {a['lint_s']:.2f})", f"{a['cpu_s']:.2f}",
                         f"{e['ratio']:.2f}x", f"{e['lint_only_ratio']:.2f}x", f"{e['cpu_ratio']:.2f}x", _loads(e)))
        nc = e["no_change"]
        rows.append(_row(f"  no-change rebuild (median of {len(nc['runs_s'])})", f"{nc['median_s']:.2f}",
                         f"{nc['cpu_s']:.2f}", "-", "-", "-", "-", "-", "-"))
        if "one_changed" in e:
            oc = e["one_changed"]
            rows.append(_row(f"  one product changed ({len(oc['linted'])} linted)", f"{oc['seconds']:.2f}",
                             f"{oc['cpu_s']:.2f}", "-", "-", "-", "-", "-", f"{oc['load']:.1f}"))
        if "naive" in e:
            n = e["naive"]
            rows.append(_row(f"  per template ({n['processes']} processes)", f"{n['seconds']:.2f}", f"{n['cpu_s']:.2f}",
                             "-", "-", f"{e['naive_ratio']:.2f}x", "-", "-", f"{n['load']:.1f}"))
    if rows:
        parts += ["", "build: ours vs the fair anchor (render once, then one cfn-lint process over every template); "
                      "medians of alternating runs; ratio = ours / anchor wall time",
                  table(["build", "ours s", "ours CPU s", "anchor s (render + lint)", "anchor CPU s", "ratio",
                         "vs lint only", "CPU ratio", "load"], rows)]
    for label, e in results.get("build", {}).items():
        where = e.get("where")
        if where:
            rows = [_row("ours", k, f"{v:.3f}") for k, v in where["ours"].items()]
            rows += [_row("cfn-lint pass", k, f"{v:.3f}" if isinstance(v, (int, float)) else v)
                     for k, v in where["lint_parts"].items()]
            parts += ["", f"where the time goes, build {label} (seconds)", table(["", "part", "s"], rows)]
    p = results.get("publish")
    if p:
        rows = []
        naive = p.get("naive")
        for key, label in (("first", "first publish"), ("no_change", "no-change re-publish"),
                           ("one_changed", "one product changed")):
            r = p[key]
            rows.append(_row(label, f"{r['seconds']:.2f}", r["reads"], r["writes"],
                             f"{r['per_product_region']['reads']:.2f}",
                             f"{naive['seconds']:.1f}" if naive else "-", naive["writes"] if naive else "-"))
        parts += ["", f"publish: {p['products']} products x {len(p['regions'])} regions "
                      f"({', '.join(p['regions'])}), {p['latency_ms']} ms per call; naive = aws s3 cp + "
                      "create-provisioning-artifact per product and region, every run",
                  table(["publish", "ours s", "reads", "writes", "reads/prod/region", "naive s", "naive writes"], rows)]
        ops = sorted(set(p["first"]["by_operation"]) | set(p["no_change"]["by_operation"])
                     | set(p["one_changed"]["by_operation"]) | set((naive or {}).get("by_operation", {})))
        rows = [_row(op, "write" if _is_write_key(op) else "read", p["first"]["by_operation"].get(op, 0),
                     p["no_change"]["by_operation"].get(op, 0), p["one_changed"]["by_operation"].get(op, 0),
                     (naive or {}).get("by_operation", {}).get(op, 0) if naive else "-") for op in ops]
        parts += ["", table(["API call", "kind", "first", "no-change", "one changed", "naive"], rows)]
        if p.get("scaling"):
            rows = [_row(e["products"], len(e["regions"]), "+".join(e["regions"]), f"{e['seconds']:.2f}", e["reads"],
                         e["writes"]) for e in p["scaling"].values()]
            parts += ["", table(["products", "regions", "which", "first publish s", "reads", "writes"], rows)]
    from generator.devtools import bench_org

    if results.get("organization"):
        parts += ["", bench_org.table(results)]
    rows = [_row("PASS" if t.ok else "MISS", t.name, t.measured, t.definition) for t in targets]
    parts += ["", table(["", "target", "measured", "definition"], rows)]
    return "\n".join(parts)


# --- entry points ----------------------------------------------------------------------------------

def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="make bench", description="Build and publish benchmark with targets (see generator/devtools/bench.py).",
        epilog="examples:\n  make bench\n  make bench BENCH_ARGS='--variants 10 --no-naive'\n"
               "  python -m generator.devtools.bench --skip-build --products 3",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variants", type=int, default=50, help="generated web-server variants to build (default 50)")
    p.add_argument("--repeat", type=int, default=3, help="no-change rebuilds to take the median of (default 3)")
    p.add_argument("--products", type=int, default=6, help="products to publish (default 6)")
    p.add_argument("--regions", type=int, default=3, choices=range(1, len(PUBLISH_REGIONS) + 1),
                   help="regions to publish to (default 3)")
    p.add_argument("--latency-ms", type=int, default=20, help="latency the endpoint adds to every call (default 20)")
    p.add_argument("--rounds", type=int, default=5, help="cold builds, alternating with the anchor, to take the "
                   "median of (default 5)")
    p.add_argument("--per-template", action="store_true", help="also build the per-template way (one render and "
                   "one cfn-lint process per template; slow)")
    p.add_argument("--no-naive", action="store_true", help="skip the naive publish (aws CLI processes)")
    p.add_argument("--no-scaling", action="store_true", help="skip the publish scaling runs")
    p.add_argument("--skip-build", action="store_true", help="publish part only")
    p.add_argument("--skip-publish", action="store_true", help="build part only")
    p.add_argument("--skip-org", action="store_true", help="leave out the organisation case")
    p.add_argument("--org-accounts", type=int, default=100, help="member accounts of the organisation case (default 100)")
    p.add_argument("--org-products", type=int, default=10, help="products of the organisation case (default 10)")
    p.add_argument("--no-per-account", action="store_true", help="organisation case without the per-account way")
    p.add_argument("--json-out", type=Path, default=DEFAULT_RESULT, help="where to write the results")
    p.add_argument("--work", type=Path, help="keep the working files here (default: a temporary folder)")
    return p


def run(args, progress: Progress = _say) -> tuple[dict, list[Target]]:
    results: dict[str, Any] = {"environment": environment(), "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
    with tempfile.TemporaryDirectory(prefix="hipaa-bench-") as tmp:
        work = Path(args.work) if args.work else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        if not args.skip_build:
            results["build"] = bench_build(work / "build", args.variants, args.repeat, rounds=args.rounds,
                                           per_template=args.per_template, progress=progress)
        if not args.skip_publish or not args.skip_org:
            body = _publish_body(work)
            from unittest import mock

            from generator.devtools.local_aws import LocalAws

            # the publisher and the AWS CLI read the standard variables; restored when the block ends
            with LocalAws.start(port=0) as endpoint, mock.patch.dict(os.environ, {
                    "AWS_ENDPOINT_URL": endpoint.url, "AWS_ACCESS_KEY_ID": "testing",
                    "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"}):
                os.environ.pop("AWS_PROFILE", None)
                os.environ.pop("AWS_SESSION_TOKEN", None)
                if not args.skip_publish:
                    results["publish"] = bench_publish(endpoint, work, body, args.products,
                                                       PUBLISH_REGIONS[:args.regions], args.latency_ms,
                                                       naive=not args.no_naive, scaling=not args.no_scaling,
                                                       progress=progress)
                if not args.skip_org:
                    from generator import settings as catalog_settings
                    from generator.devtools import bench_org

                    results["organization"] = bench_org.bench(
                        endpoint, work, body, args.org_accounts, args.org_products, catalog_settings.load().regions,
                        args.latency_ms, per_account_way=not args.no_per_account, progress=progress)
    targets = evaluate(results)
    results["targets"] = [asdict(t) for t in targets]
    results["ok"] = all(t.ok for t in targets)
    return results, targets


def _publish_body(work: Path) -> str:
    """The real web server template (from the bench's build when there is one, else rendered now)."""
    built = sorted((work / "build").glob("ours-catalog/healthcare-web-server/*/template.json"))
    if built:
        return built[-1].read_text(encoding="utf-8")
    from generator.pipeline import build as pipeline
    from generator import settings as catalog_settings

    items = pipeline.render_all(catalog_settings.load(), only=["healthcare-web-server"])
    return items[0].json_text


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("render-one", "render-all", "build-one-process", "lint-parts"):
        return _child(argv)
    args = parser().parse_args(argv)
    results, targets = run(args)
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(render_table(results, targets))
    missed = [t for t in targets if not t.ok]
    print(f"\nresults: {args.json_out}; " + (f"{len(missed)} target(s) missed: " + ", ".join(t.name for t in missed)
                                              if missed else f"all {len(targets)} targets met"))
    return 1 if missed else 0


def _child(argv: list[str]) -> int:
    """The processes the benchmark times: render one template the naive way, render every template once
    (the anchor), build in one process, or measure the parts of a lint pass."""
    p = argparse.ArgumentParser(prog="generator.devtools.bench")
    p.add_argument("mode", choices=["render-one", "render-all", "build-one-process", "lint-parts"])
    p.add_argument("--settings", type=Path)
    p.add_argument("--product")
    p.add_argument("--out", type=Path)
    p.add_argument("--variants", action="store_true")
    p.add_argument("--regions", nargs="+")
    p.add_argument("--templates", nargs="+")
    args = p.parse_args(argv)
    if args.mode == "lint-parts":
        print(json.dumps(_lint_parts_child(args.templates, args.regions)))
        return 0
    from generator.pipeline import build as pipeline
    from generator import settings as catalog_settings

    settings = catalog_settings.load(args.settings)
    registry = _registry_for(settings, args.variants)
    if args.mode == "build-one-process":
        pipeline.build(settings, out_dir=args.out, registry=registry)
        return 0
    if args.mode == "render-all":
        args.out.mkdir(parents=True, exist_ok=True)
        for item in pipeline.render_all(settings, registry=registry):
            (args.out / f"{item.name}.json").write_text(item.json_text, encoding="utf-8")
        return 0
    settings, registry = upto(settings, registry, args.product)
    item = pipeline.render_all(settings, registry=registry)[-1]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(item.json_text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
