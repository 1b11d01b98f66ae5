"""The AWS side: one way to call AWS (``api``), publishing to S3 and Service Catalog, deploying the
administrator's stacks, and the developers' end-user Service Catalog operations."""
