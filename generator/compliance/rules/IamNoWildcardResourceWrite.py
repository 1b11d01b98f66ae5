"""E9703: write, PassRole and KMS actions are never allowed on Resource "*"."""

import re

from generator.compliance import hipaa

READ_ONLY = re.compile(r"^(Describe|List|Get|Head|BatchGet|Search|Lookup|Query|Scan|Select|View|Check|Validate|"
                       r"Estimate|Preview|Simulate|Filter|Test)")


def _is_write(action: str) -> bool:
    service, _, name = action.partition(":")
    if not name or service.lower() == "kms" or action.lower() == "iam:passrole":
        return True
    return not READ_ONLY.match(name) or name.startswith("*")


IAM_POLICY_TYPES = hipaa.IAM_POLICY_TYPES  # (the class attribute `hipaa` shadows the module in the class body)


class IamNoWildcardResourceWrite(hipaa.HipaaRule):
    id = "E9703"
    shortdesc = "No write, PassRole or KMS actions on Resource *"
    description = ("An Allow statement of an identity policy whose Resource is * (or NotResource) may only hold "
                   "read-only actions (Describe*, List*, Get*, ...); never write actions, iam:PassRole or kms:*.")
    hipaa = ("164.308(a)(3)(i)", "164.308(a)(4)", "164.312(a)(1)")
    fix = "scope Resource to the ARNs the actions need (Fn::Sub with ${AWS::AccountId} and names)"
    resource_types = IAM_POLICY_TYPES
    evidence = ("PolicyDocument",)

    def shown(self, s, lid, res):
        return hipaa.statements_shown(res)

    def check(self, s, lid, res):
        for path, st in hipaa.allow_statements(res):
            if "*" not in hipaa.as_list(st.get("Resource")) and "NotResource" not in st:
                continue
            writes = [a for a in hipaa.as_list(st.get("Action")) if isinstance(a, str) and _is_write(a)]
            if writes:
                yield hipaa.Fail(path + ("Resource",) if "Resource" in st else path + ("NotResource",),
                                 f"{lid}: allows {', '.join(writes)} on every resource")
