"""W9408: every metric filter feeds an alarm (otherwise nobody reviews the activity it counts)."""

from generator.compliance import hipaa


class MetricFilterHasAlarm(hipaa.HipaaRule):
    id = "W9408"
    shortdesc = "Metric filters have an alarm"
    description = ("Every metric of an AWS::Logs::MetricFilter is watched by an AWS::CloudWatch::Alarm with the "
                   "same MetricName and Namespace.")
    hipaa = ("164.308(a)(1)(ii)(D)", "164.308(a)(6)")
    fix = "add an alarm on the filter's metric (Sum >= 1 over 5 minutes) notifying the admin topic"
    resource_types = ("AWS::Logs::MetricFilter",)
    evidence = ("MetricTransformations",)

    def check(self, s, lid, res):
        watched = {(hipaa.text(hipaa.props(a).get("Namespace")), hipaa.text(hipaa.props(a).get("MetricName")))
                   for _, a in s.of_type("AWS::CloudWatch::Alarm")}
        for i, mt in enumerate(hipaa.as_list(hipaa.props(res).get("MetricTransformations"))):
            if isinstance(mt, dict) and (hipaa.text(mt.get("MetricNamespace")), hipaa.text(mt.get("MetricName"))) not in watched:
                yield hipaa.Fail(("Properties", "MetricTransformations", i),
                                 f"metric filter {lid}: no alarm on {mt.get('MetricNamespace')}/{mt.get('MetricName')}")
