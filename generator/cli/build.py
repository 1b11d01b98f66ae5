"""``hipaa-catalog build``: render, validate and write every product."""

from __future__ import annotations

from pathlib import Path

from generator import settings as catalog_settings
from generator.cli import output
from generator.pipeline import cache as buildcache, manifest as manifests, workers as pool


def register(sub) -> None:
    p = sub.add_parser("build", help="render and validate every product into build/",
                       description="Render every product of the catalog, validate it with cfn-lint and the "
                                   "HIPAA rules in every catalog region, and write build/.",
                       epilog="example: hipaa-catalog build --only healthcare-web-server")
    p.add_argument("--out", type=Path, default=manifests.BUILD_DIR, help="output folder (default: build/)")
    p.add_argument("--only", action="append", metavar="PRODUCT", help="build only this product (repeatable)")
    output.add_json_flag(p)
    p.set_defaults(func=run)


def run(args) -> int:
    settings = catalog_settings.load(args.settings)
    with pool.Workers(settings.regions) as workers:
        # a cold build starts loading the rule set before this process imports the renderer and the products
        if pool.cold(args.out, buildcache.CACHE_DIR):
            workers.start()
        from generator.pipeline import build as pipeline

        workers.timings.phase("imports")
        manifest = pipeline.build(settings, out_dir=args.out, only=args.only,
                                  progress=output.quiet if args.json else output.progress, workers=workers)
    if args.json:
        output.emit_json(manifest.to_json())
        return 0
    rows = [(p.name, p.version, p.kind, p.size, p.sha256[:12], p.path) for p in manifest.products]
    print(output.table(["product", "version", "kind", "bytes", "sha256", "template"], rows))
    print(f"\nmanifest: {Path(args.out) / manifests.MANIFEST}  (linted in {', '.join(manifest.linted_regions)})")
    return 0
