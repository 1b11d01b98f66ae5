"""W9403: every alarm also reports when its data stops arriving."""

from generator.compliance import hipaa


class AlarmInsufficientDataActions(hipaa.HipaaRule):
    id = "W9403"
    shortdesc = "Alarms have InsufficientDataActions"
    description = ("AWS::CloudWatch::Alarm has InsufficientDataActions (AWS Config cloudwatch-alarm-action-check "
                   "requires them by default), so a silenced log source is noticed.")
    hipaa = ("164.312(b)",)
    fix = "set InsufficientDataActions to the same SNS topic as AlarmActions"
    resource_types = ("AWS::CloudWatch::Alarm",)
    evidence = ("InsufficientDataActions",)

    def check(self, s, lid, res):
        if not hipaa.is_set(hipaa.props(res).get("InsufficientDataActions")):
            yield hipaa.Fail(("Properties", "InsufficientDataActions"), f"alarm {lid}: no InsufficientDataActions")
