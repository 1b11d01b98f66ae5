"""E9401: log groups keep their events at least a year."""

from generator.compliance import hipaa

MIN_DAYS = 365


class LogGroupRetention(hipaa.HipaaRule):
    id = "E9401"
    shortdesc = "Log groups retained >= 365 days"
    description = f"AWS::Logs::LogGroup sets RetentionInDays to at least {MIN_DAYS}."
    hipaa = ("164.312(b)",)
    fix = f"set RetentionInDays: {MIN_DAYS} (or more)"
    resource_types = ("AWS::Logs::LogGroup",)
    evidence = ("RetentionInDays",)

    def check(self, s, lid, res):
        days = hipaa.props(res).get("RetentionInDays")
        try:
            ok = int(days) >= MIN_DAYS
        except (TypeError, ValueError):
            ok = False
        if not ok:
            yield hipaa.Fail(("Properties", "RetentionInDays"),
                             f"log group {lid}: RetentionInDays is {days if days is not None else 'not set'}, "
                             f"less than {MIN_DAYS} or not a number")
