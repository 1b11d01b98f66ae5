"""The build pipeline: render every product, validate it, write ``build/`` and its manifest (the one
hand-off to publishing and deploying), with the build cache and the parallel workers."""
