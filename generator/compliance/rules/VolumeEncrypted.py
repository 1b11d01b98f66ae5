"""E9101: every EBS volume is encrypted with a KMS key."""

from generator.compliance import hipaa


class VolumeEncrypted(hipaa.HipaaRule):
    id = "E9101"
    shortdesc = "EBS volumes encrypted with KMS"
    description = "AWS::EC2::Volume needs Encrypted true (a parameter only if every allowed value is true) and KmsKeyId."
    hipaa = ("164.312(a)(2)(iv)", "164.312(e)(2)(ii)")
    fix = "set Encrypted: true and KmsKeyId to the product's KMS key"
    resource_types = ("AWS::EC2::Volume",)
    evidence = ("Encrypted", "KmsKeyId")

    def check(self, s, lid, res):
        p = hipaa.props(res)
        ok, why = hipaa.is_true(p.get("Encrypted"), s)
        if not ok:
            yield hipaa.Fail(("Properties", "Encrypted"), f"volume {lid}: Encrypted {why}")
        if not hipaa.is_set(p.get("KmsKeyId")):
            yield hipaa.Fail(("Properties", "KmsKeyId"), f"volume {lid}: KmsKeyId is not set")
