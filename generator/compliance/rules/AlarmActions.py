"""E9402: every alarm notifies someone."""

from generator.compliance import hipaa


class AlarmActions(hipaa.HipaaRule):
    id = "E9402"
    shortdesc = "Alarms have AlarmActions"
    description = "AWS::CloudWatch::Alarm has AlarmActions and does not set ActionsEnabled false."
    hipaa = ("164.312(b)",) + ("164.308(a)(1)(ii)(D)", "164.308(a)(6)")
    fix = "set AlarmActions to the administrators' encrypted SNS topic"
    resource_types = ("AWS::CloudWatch::Alarm",)
    evidence = ("AlarmActions",)

    def check(self, s, lid, res):
        p = hipaa.props(res)
        if not hipaa.is_set(p.get("AlarmActions")):
            yield hipaa.Fail(("Properties", "AlarmActions"), f"alarm {lid}: no AlarmActions")
        if str(p.get("ActionsEnabled", True)).lower() == "false":
            yield hipaa.Fail(("Properties", "ActionsEnabled"), f"alarm {lid}: ActionsEnabled is false")
