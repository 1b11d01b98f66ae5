"""E9102: an instance's root and other block-device volumes are encrypted with KMS."""

from generator.compliance import hipaa


class InstanceVolumesEncrypted(hipaa.HipaaRule):
    id = "E9102"
    shortdesc = "Instance block devices encrypted with KMS"
    description = ("AWS::EC2::Instance must declare its root volume in BlockDeviceMappings, and every Ebs "
                   "mapping needs Encrypted true and KmsKeyId (an undeclared root volume is unencrypted).")
    hipaa = ("164.312(a)(2)(iv)", "164.312(e)(2)(ii)")
    fix = "add BlockDeviceMappings with Ebs: {Encrypted: true, KmsKeyId: <key>} for the root device"
    resource_types = ("AWS::EC2::Instance",)
    evidence = ("BlockDeviceMappings",)

    def check(self, s, lid, res):
        mappings = hipaa.as_list(hipaa.props(res).get("BlockDeviceMappings"))
        ebs = [(i, m["Ebs"]) for i, m in enumerate(mappings) if isinstance(m, dict) and isinstance(m.get("Ebs"), dict)]
        if not ebs:
            yield hipaa.Fail(("Properties", "BlockDeviceMappings"),
                             f"instance {lid}: no Ebs BlockDeviceMappings, so the root volume is not encrypted")
        for i, e in ebs:
            ok, why = hipaa.is_true(e.get("Encrypted"), s)
            if not ok:
                yield hipaa.Fail(("Properties", "BlockDeviceMappings", i, "Ebs", "Encrypted"),
                                 f"instance {lid}: block device {i} Encrypted {why}")
            if not hipaa.is_set(e.get("KmsKeyId")):
                yield hipaa.Fail(("Properties", "BlockDeviceMappings", i, "Ebs", "KmsKeyId"),
                                 f"instance {lid}: block device {i} has no KmsKeyId")
