"""E9304: instances have an IAM instance profile."""

from generator.compliance import hipaa


class InstanceProfileAttached(hipaa.HipaaRule):
    id = "E9304"
    shortdesc = "Instances have an instance profile"
    description = "AWS::EC2::Instance sets IamInstanceProfile (least-privilege role instead of stored keys)."
    hipaa = ("164.308(a)(3)(i)", "164.308(a)(4)", "164.312(a)(1)")
    fix = "attach an AWS::IAM::InstanceProfile with a least-privilege role"
    resource_types = ("AWS::EC2::Instance",)
    evidence = ("IamInstanceProfile",)

    def check(self, s, lid, res):
        if not hipaa.is_set(hipaa.props(res).get("IamInstanceProfile")):
            yield hipaa.Fail(("Properties", "IamInstanceProfile"), f"instance {lid}: no IamInstanceProfile")
