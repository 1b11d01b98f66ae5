"""W9206: every security-group rule says why it exists."""

from generator.compliance import hipaa


SG_TYPES = hipaa.SG_TYPES  # (the class attribute `hipaa` shadows the module in the class body)


class SecurityGroupRuleDescription(hipaa.HipaaRule):
    id = "W9206"
    shortdesc = "Security-group rules have a Description"
    description = "Every ingress and egress rule of a security group (inline or standalone) has a Description."
    hipaa = ("164.308(a)(3)(i)", "164.308(a)(4)", "164.312(a)(1)")
    fix = "add Description: what the rule allows and why"
    resource_types = SG_TYPES
    evidence = ("Description",)

    def shown(self, s, lid, res):
        return hipaa.sg_shown(lid, res, ("Ingress", "Egress"), "Description")

    def check(self, s, lid, res):
        for direction in ("Ingress", "Egress"):
            for path, rule, _ in hipaa.sg_rules(lid, res, direction):
                if not hipaa.is_set(rule.get("Description")):
                    yield hipaa.Fail(path + ("Description",), f"{lid}: {direction.lower()} rule has no Description")
