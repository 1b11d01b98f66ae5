"""E9105: CloudTrail trails encrypted with KMS."""

from generator.compliance import hipaa


class TrailEncrypted(hipaa.HipaaRule):
    id = "E9105"
    shortdesc = "CloudTrail trails encrypted with KMS"
    description = "AWS::CloudTrail::Trail needs KMSKeyId set to a KMS key."
    hipaa = ("164.312(a)(2)(iv)", "164.312(e)(2)(ii)")
    fix = "set KMSKeyId to a KMS key whose policy allows cloudtrail.amazonaws.com"
    resource_types = ("AWS::CloudTrail::Trail",)
    evidence = ("KMSKeyId",)

    def check(self, s, lid, res):
        if not hipaa.is_set(hipaa.props(res).get("KMSKeyId")):
            yield hipaa.Fail(("Properties", "KMSKeyId"), f"trail {lid}: KMSKeyId is not set, so it is not encrypted with KMS")
