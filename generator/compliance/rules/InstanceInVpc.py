"""E9302: instances run in a VPC subnet."""

from generator.compliance import hipaa


class InstanceInVpc(hipaa.HipaaRule):
    id = "E9302"
    shortdesc = "Instances in a VPC subnet"
    description = "AWS::EC2::Instance sets SubnetId, or a SubnetId on its network interfaces."
    hipaa = ("164.308(a)(3)(i)", "164.308(a)(4)", "164.312(a)(1)")
    fix = "set SubnetId to a private subnet of the administrator's VPC"
    resource_types = ("AWS::EC2::Instance",)
    evidence = ("SubnetId",)

    def shown(self, s, lid, res):
        p = hipaa.props(res)
        if hipaa.is_set(p.get("SubnetId")):
            return [("SubnetId", p["SubnetId"])]
        return [(f"NetworkInterfaces/{i}/SubnetId", ni.get("SubnetId"))
                for i, ni in enumerate(hipaa.as_list(p.get("NetworkInterfaces"))) if isinstance(ni, dict)] \
            or [("SubnetId", None)]

    def check(self, s, lid, res):
        p = hipaa.props(res)
        nis = [ni for ni in hipaa.as_list(p.get("NetworkInterfaces")) if isinstance(ni, dict)]
        if not hipaa.is_set(p.get("SubnetId")) and not (nis and all(hipaa.is_set(n.get("SubnetId")) or
                                                                   hipaa.is_set(n.get("NetworkInterfaceId"))
                                                                   for n in nis)):
            yield hipaa.Fail(("Properties", "SubnetId"), f"instance {lid}: no SubnetId, so not placed in a VPC subnet")
