"""E9405: the trail records S3 object-level (data) events."""

from generator.compliance import hipaa


def _logs_s3_objects(p):
    for sel in hipaa.as_list(p.get("EventSelectors")):
        if isinstance(sel, dict) and any(isinstance(d, dict) and d.get("Type") == "AWS::S3::Object"
                                         for d in hipaa.as_list(sel.get("DataResources"))):
            return True
    for sel in hipaa.as_list(p.get("AdvancedEventSelectors")):
        for f in hipaa.as_list(sel.get("FieldSelectors") if isinstance(sel, dict) else None):
            if isinstance(f, dict) and f.get("Field") == "resources.type" and                     "AWS::S3::Object" in hipaa.as_list(f.get("Equals")):
                return True
    return False


class TrailS3DataEvents(hipaa.HipaaRule):
    id = "E9405"
    shortdesc = "Trails record S3 data events"
    description = "AWS::CloudTrail::Trail has an (advanced) event selector for AWS::S3::Object data events."
    hipaa = ("164.308(a)(3)(ii)(A)", "164.312(b)")
    fix = "add EventSelectors: [{DataResources: [{Type: AWS::S3::Object, Values: [arn:aws:s3]}]}]"
    resource_types = ("AWS::CloudTrail::Trail",)
    evidence = ("EventSelectors",)

    def check(self, s, lid, res):
        if not _logs_s3_objects(hipaa.props(res)):
            yield hipaa.Fail(("Properties", "EventSelectors"), f"trail {lid}: S3 data events are not recorded")
