"""E9303: instances require IMDSv2 session tokens."""

from generator.compliance import hipaa


class InstanceImdsV2(hipaa.HipaaRule):
    id = "E9303"
    shortdesc = "Instances require IMDSv2"
    description = "AWS::EC2::Instance sets MetadataOptions.HttpTokens required."
    hipaa = ("164.308(a)(3)(i)", "164.308(a)(4)", "164.312(a)(1)")
    fix = "set MetadataOptions: {HttpTokens: required}"
    resource_types = ("AWS::EC2::Instance",)
    evidence = ("MetadataOptions",)

    def check(self, s, lid, res):
        mo = hipaa.props(res).get("MetadataOptions")
        tokens = mo.get("HttpTokens") if isinstance(mo, dict) else None
        if tokens != "required":
            yield hipaa.Fail(("Properties", "MetadataOptions", "HttpTokens") if isinstance(mo, dict)
                             else ("Properties", "MetadataOptions"),
                             f"instance {lid}: HttpTokens is {tokens or 'not set'}, IMDSv1 is allowed")
