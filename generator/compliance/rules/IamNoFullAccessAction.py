"""E9702: no identity policy allows every action, or every action of a service."""

import re

from generator.compliance import hipaa

FULL = re.compile(r"^(\*|[A-Za-z0-9-]+:\*+)$")  # "*", "s3:*", hyphenated prefixes like "catalog-user:*"


IAM_POLICY_TYPES = hipaa.IAM_POLICY_TYPES  # (the class attribute `hipaa` shadows the module in the class body)


class IamNoFullAccessAction(hipaa.HipaaRule):
    id = "E9702"
    shortdesc = "IAM allows no * or service:* actions"
    description = ("No Allow statement of an identity policy (managed, inline or AWS::IAM::Policy) has Action * "
                   "or service:* (including hyphenated prefixes such as catalog-user:*) or uses NotAction.")
    hipaa = ("164.308(a)(3)(i)", "164.308(a)(4)", "164.312(a)(1)")
    fix = "list the specific actions the workload needs"
    resource_types = IAM_POLICY_TYPES
    evidence = ("PolicyDocument",)

    def shown(self, s, lid, res):
        return hipaa.statements_shown(res)

    def check(self, s, lid, res):
        for path, st in hipaa.allow_statements(res):
            if "NotAction" in st:
                yield hipaa.Fail(path + ("NotAction",), f"{lid}: Allow with NotAction grants almost everything")
            for i, action in enumerate(hipaa.as_list(st.get("Action"))):
                if isinstance(action, str) and FULL.match(action):
                    p = path + ("Action", i) if isinstance(st.get("Action"), list) else path + ("Action",)
                    yield hipaa.Fail(p, f"{lid}: allows {action}")
