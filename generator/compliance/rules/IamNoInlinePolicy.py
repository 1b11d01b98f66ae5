"""E9701: permissions come from managed policies, not inline ones."""

from generator.compliance import hipaa


class IamNoInlinePolicy(hipaa.HipaaRule):
    id = "E9701"
    shortdesc = "IAM uses managed policies only"
    description = ("AWS::IAM::Role, Group and User have no inline Policies, and no AWS::IAM::Policy (an inline "
                   "policy resource) is used; attach AWS::IAM::ManagedPolicy instead.")
    hipaa = ("164.308(a)(3)(i)", "164.308(a)(4)", "164.312(a)(1)")
    fix = "move the statements into an AWS::IAM::ManagedPolicy and list it in ManagedPolicyArns"
    resource_types = ("AWS::IAM::Role", "AWS::IAM::Group", "AWS::IAM::User", "AWS::IAM::Policy")
    evidence = ("ManagedPolicyArns",)

    def check(self, s, lid, res):
        if res.get("Type") == "AWS::IAM::Policy":
            yield hipaa.Fail(("Type",), f"{lid}: AWS::IAM::Policy creates an inline policy")
        elif hipaa.is_set(hipaa.props(res).get("Policies")):
            yield hipaa.Fail(("Properties", "Policies"), f"{lid}: has inline Policies")
