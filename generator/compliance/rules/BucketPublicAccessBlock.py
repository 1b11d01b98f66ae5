"""E9503: buckets block every form of public access."""

from generator.compliance import hipaa

FLAGS = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
PUBLIC_ACLS = ("PublicRead", "PublicReadWrite", "AuthenticatedRead")


class BucketPublicAccessBlock(hipaa.HipaaRule):
    id = "E9503"
    shortdesc = "S3 buckets block public access"
    description = "AWS::S3::Bucket sets all four PublicAccessBlockConfiguration flags true and no public AccessControl."
    hipaa = ("164.308(a)(3)(i)", "164.312(a)(1)")
    fix = "set PublicAccessBlockConfiguration with " + ", ".join(f"{f}: true" for f in FLAGS)
    resource_types = ("AWS::S3::Bucket",)
    evidence = ("PublicAccessBlockConfiguration",)

    def check(self, s, lid, res):
        p = hipaa.props(res)
        pab = p.get("PublicAccessBlockConfiguration")
        if not isinstance(pab, dict):
            yield hipaa.Fail(("Properties", "PublicAccessBlockConfiguration"), f"bucket {lid}: no public access block")
        else:
            for flag in FLAGS:
                ok, why = hipaa.is_true(pab.get(flag), s)
                if not ok:
                    yield hipaa.Fail(("Properties", "PublicAccessBlockConfiguration", flag), f"bucket {lid}: {flag} {why}")
        if p.get("AccessControl") in PUBLIC_ACLS:
            yield hipaa.Fail(("Properties", "AccessControl"), f"bucket {lid}: AccessControl {p['AccessControl']} is public")
