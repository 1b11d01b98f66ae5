"""E9502: buckets write server access logs to a log bucket."""

from generator.compliance import hipaa


class BucketAccessLogging(hipaa.HipaaRule):
    id = "E9502"
    shortdesc = "S3 buckets have access logging"
    description = "AWS::S3::Bucket sets LoggingConfiguration.DestinationBucketName (server access logs)."
    hipaa = ("164.308(a)(3)(ii)(A)", "164.312(b)")
    fix = "set LoggingConfiguration: {DestinationBucketName: <log bucket>}; waive on the log bucket itself"
    resource_types = ("AWS::S3::Bucket",)
    evidence = ("LoggingConfiguration",)

    def check(self, s, lid, res):
        lc = hipaa.props(res).get("LoggingConfiguration")
        if not (isinstance(lc, dict) and hipaa.is_set(lc.get("DestinationBucketName"))):
            yield hipaa.Fail(("Properties", "LoggingConfiguration"), f"bucket {lid}: no server access logging")
