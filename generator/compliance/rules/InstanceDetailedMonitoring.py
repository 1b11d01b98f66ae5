"""E9305: instances have detailed monitoring."""

from generator.compliance import hipaa


class InstanceDetailedMonitoring(hipaa.HipaaRule):
    id = "E9305"
    shortdesc = "Instances have detailed monitoring"
    description = "AWS::EC2::Instance sets Monitoring true (1-minute CloudWatch metrics)."
    hipaa = ("164.312(b)",)
    fix = "set Monitoring: true"
    resource_types = ("AWS::EC2::Instance",)
    evidence = ("Monitoring",)

    def check(self, s, lid, res):
        ok, why = hipaa.is_true(hipaa.props(res).get("Monitoring"), s)
        if not ok:
            yield hipaa.Fail(("Properties", "Monitoring"), f"instance {lid}: Monitoring {why}")
