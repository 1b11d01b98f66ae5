"""Developer tools, not part of what a build hashes: the local AWS endpoint, the demo, the benchmark."""
