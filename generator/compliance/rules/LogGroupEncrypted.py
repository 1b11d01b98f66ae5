"""E9103: Log groups encrypted with KMS."""

from generator.compliance import hipaa


class LogGroupEncrypted(hipaa.HipaaRule):
    id = "E9103"
    shortdesc = "Log groups encrypted with KMS"
    description = "AWS::Logs::LogGroup needs KmsKeyId set to a KMS key."
    hipaa = ("164.312(a)(2)(iv)", "164.312(e)(2)(ii)")
    fix = "set KmsKeyId to a KMS key whose policy allows logs.<region>.amazonaws.com"
    resource_types = ("AWS::Logs::LogGroup",)
    evidence = ("KmsKeyId",)

    def check(self, s, lid, res):
        if not hipaa.is_set(hipaa.props(res).get("KmsKeyId")):
            yield hipaa.Fail(("Properties", "KmsKeyId"), f"log group {lid}: KmsKeyId is not set, so it is not encrypted with KMS")
