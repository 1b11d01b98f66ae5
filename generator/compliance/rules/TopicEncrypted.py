"""E9104: SNS topics encrypted with KMS."""

from generator.compliance import hipaa


class TopicEncrypted(hipaa.HipaaRule):
    id = "E9104"
    shortdesc = "SNS topics encrypted with KMS"
    description = "AWS::SNS::Topic needs KmsMasterKeyId set to a KMS key."
    hipaa = ("164.312(a)(2)(iv)", "164.312(e)(2)(ii)")
    fix = "set KmsMasterKeyId to a customer managed KMS key"
    resource_types = ("AWS::SNS::Topic",)
    evidence = ("KmsMasterKeyId",)

    def check(self, s, lid, res):
        if not hipaa.is_set(hipaa.props(res).get("KmsMasterKeyId")):
            yield hipaa.Fail(("Properties", "KmsMasterKeyId"), f"topic {lid}: KmsMasterKeyId is not set, so it is not encrypted with KMS")
