"""E9107: customer managed KMS keys rotate yearly."""

from generator.compliance import hipaa


class KmsKeyRotation(hipaa.HipaaRule):
    id = "E9107"
    shortdesc = "KMS keys rotated"
    description = "A symmetric AWS::KMS::Key needs EnableKeyRotation true."
    hipaa = ("164.312(a)(2)(iv)", "164.312(e)(2)(ii)")
    fix = "set EnableKeyRotation: true"
    resource_types = ("AWS::KMS::Key",)
    evidence = ("EnableKeyRotation",)

    def check(self, s, lid, res):
        p = hipaa.props(res)
        if p.get("KeySpec", "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT":
            return  # rotation only exists for symmetric keys
        ok, why = hipaa.is_true(p.get("EnableKeyRotation"), s)
        if not ok:
            yield hipaa.Fail(("Properties", "EnableKeyRotation"), f"key {lid}: EnableKeyRotation {why}")
