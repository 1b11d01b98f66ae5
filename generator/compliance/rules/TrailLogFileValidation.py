"""E9407: the trail's log files can be shown unaltered."""

from generator.compliance import hipaa


class TrailLogFileValidation(hipaa.HipaaRule):
    id = "E9407"
    shortdesc = "Trails validate log files"
    description = "AWS::CloudTrail::Trail sets EnableLogFileValidation true."
    hipaa = ("164.312(c)(1)", "164.312(c)(2)")
    fix = "set EnableLogFileValidation: true"
    resource_types = ("AWS::CloudTrail::Trail",)
    evidence = ("EnableLogFileValidation",)

    def check(self, s, lid, res):
        ok, why = hipaa.is_true(hipaa.props(res).get("EnableLogFileValidation"), s)
        if not ok:
            yield hipaa.Fail(("Properties", "EnableLogFileValidation"), f"trail {lid}: EnableLogFileValidation {why}")
