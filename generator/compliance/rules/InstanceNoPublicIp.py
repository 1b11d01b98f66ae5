"""E9301: instances get no public IP address (internet traffic arrives through a load balancer)."""

from generator.compliance import hipaa


class InstanceNoPublicIp(hipaa.HipaaRule):
    id = "E9301"
    shortdesc = "Instances have no public IP"
    description = ("No AWS::EC2::Instance network interface sets AssociatePublicIpAddress true, and no "
                   "AWS::EC2::EIP or EIPAssociation attaches an Elastic IP to an instance.")
    hipaa = ("164.308(a)(3)(i)", "164.308(a)(4)", "164.312(a)(1)")
    fix = "launch in a private subnet without a public address; publish through the load balancer"
    resource_types = ("AWS::EC2::Instance", "AWS::EC2::EIP", "AWS::EC2::EIPAssociation")
    evidence = ("NetworkInterfaces",)

    def shown(self, s, lid, res):
        p = hipaa.props(res)
        if res.get("Type") != "AWS::EC2::Instance":
            return [("InstanceId", p.get("InstanceId"))]
        return [(f"NetworkInterfaces/{i}/AssociatePublicIpAddress", ni.get("AssociatePublicIpAddress"))
                for i, ni in enumerate(hipaa.as_list(p.get("NetworkInterfaces"))) if isinstance(ni, dict)] \
            or [("NetworkInterfaces", None)]

    def check(self, s, lid, res):
        p = hipaa.props(res)
        if res.get("Type") != "AWS::EC2::Instance":
            if hipaa.is_set(p.get("InstanceId")):
                yield hipaa.Fail(("Properties", "InstanceId"), f"{lid}: attaches an Elastic IP to an instance")
            return
        for i, ni in enumerate(hipaa.as_list(p.get("NetworkInterfaces"))):
            if not isinstance(ni, dict) or "AssociatePublicIpAddress" not in ni:
                continue
            value = ni.get("AssociatePublicIpAddress")
            if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in s.parameters:
                allowed = s.parameters[value["Ref"]].get("AllowedValues") or []
                if allowed and all(str(v).lower() == "false" for v in allowed):
                    continue
            if str(value).lower() != "false":
                yield hipaa.Fail(("Properties", "NetworkInterfaces", i, "AssociatePublicIpAddress"),
                                 f"instance {lid}: AssociatePublicIpAddress is not false")
