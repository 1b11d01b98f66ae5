"""E9108: no KMS key policy statement allows everyone."""

from generator.compliance import hipaa


class KmsKeyNoPublicPrincipal(hipaa.HipaaRule):
    id = "E9108"
    shortdesc = "KMS key policies allow no principal *"
    description = "No Allow statement of an AWS::KMS::Key KeyPolicy has Principal * or AWS: *."
    hipaa = ("164.312(a)(2)(iv)", "164.312(e)(2)(ii)") + ("164.312(a)(1)",)
    fix = "name the account root, roles or service principals instead of *"
    resource_types = ("AWS::KMS::Key",)
    evidence = ("KeyPolicy",)

    def check(self, s, lid, res):
        policy = hipaa.props(res).get("KeyPolicy")
        stmts = policy.get("Statement") if isinstance(policy, dict) else None
        for i, st in enumerate(hipaa.as_list(stmts)):
            if not isinstance(st, dict) or st.get("Effect") != "Allow":
                continue
            pr = st.get("Principal")
            aws = pr.get("AWS") if isinstance(pr, dict) else None
            if pr == "*" or "*" in hipaa.as_list(aws):
                yield hipaa.Fail(("Properties", "KeyPolicy", "Statement", i, "Principal"),
                                 f"key {lid}: statement {i} allows principal *")
