"""E9404: the trail logs every region, global services, and is on."""

from generator.compliance import hipaa


class TrailMultiRegion(hipaa.HipaaRule):
    id = "E9404"
    shortdesc = "Trails multi-region, logging, with global events"
    description = "AWS::CloudTrail::Trail sets IsMultiRegionTrail, IsLogging and IncludeGlobalServiceEvents true."
    hipaa = ("164.308(a)(3)(ii)(A)", "164.312(b)")
    fix = "set IsMultiRegionTrail: true, IsLogging: true, IncludeGlobalServiceEvents: true"
    resource_types = ("AWS::CloudTrail::Trail",)
    evidence = ("IsMultiRegionTrail", "IsLogging", "IncludeGlobalServiceEvents")

    def check(self, s, lid, res):
        p = hipaa.props(res)
        for key in self.evidence:
            ok, why = hipaa.is_true(p.get(key), s)
            if not ok:
                yield hipaa.Fail(("Properties", key), f"trail {lid}: {key} {why}")
