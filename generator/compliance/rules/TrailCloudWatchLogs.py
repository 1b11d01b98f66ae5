"""E9406: the trail delivers to CloudWatch Logs, where metric filters and alarms watch it."""

from generator.compliance import hipaa


class TrailCloudWatchLogs(hipaa.HipaaRule):
    id = "E9406"
    shortdesc = "Trails deliver to CloudWatch Logs"
    description = "AWS::CloudTrail::Trail sets CloudWatchLogsLogGroupArn and CloudWatchLogsRoleArn."
    hipaa = ("164.308(a)(3)(ii)(A)", "164.312(b)") + ("164.308(a)(1)(ii)(D)",)
    fix = "set CloudWatchLogsLogGroupArn and CloudWatchLogsRoleArn"
    resource_types = ("AWS::CloudTrail::Trail",)
    evidence = ("CloudWatchLogsLogGroupArn", "CloudWatchLogsRoleArn")

    def check(self, s, lid, res):
        p = hipaa.props(res)
        for key in self.evidence:
            if not hipaa.is_set(p.get(key)):
                yield hipaa.Fail(("Properties", key), f"trail {lid}: {key} is not set")
