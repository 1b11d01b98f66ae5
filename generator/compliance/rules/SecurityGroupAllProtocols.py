"""E9205: no security-group rule allows every protocol (IpProtocol -1)."""

from generator.compliance import hipaa


SG_TYPES = hipaa.SG_TYPES  # (the class attribute `hipaa` shadows the module in the class body)


class SecurityGroupAllProtocols(hipaa.HipaaRule):
    id = "E9205"
    shortdesc = "No IpProtocol -1 rules"
    description = "No ingress or egress rule of a security group (inline or standalone) has IpProtocol -1."
    hipaa = ("164.308(a)(3)(i)", "164.308(a)(4)", "164.312(a)(1)")
    fix = "name the protocol and ports the workload needs (e.g. tcp 443)"
    resource_types = SG_TYPES
    evidence = ("IpProtocol",)

    def shown(self, s, lid, res):
        return hipaa.sg_shown(lid, res, ("Ingress", "Egress"), "IpProtocol")

    def check(self, s, lid, res):
        for direction in ("Ingress", "Egress"):
            for path, rule, _ in hipaa.sg_rules(lid, res, direction):
                if str(rule.get("IpProtocol", "")).lower() in ("-1", "all"):
                    yield hipaa.Fail(path + ("IpProtocol",), f"{lid}: {direction.lower()} rule allows every protocol")
