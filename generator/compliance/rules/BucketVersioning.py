"""E9501: buckets keep previous object versions."""

from generator.compliance import hipaa


class BucketVersioning(hipaa.HipaaRule):
    id = "E9501"
    shortdesc = "S3 buckets versioned"
    description = "AWS::S3::Bucket sets VersioningConfiguration.Status Enabled."
    hipaa = ("164.308(a)(7)(i)", "164.312(c)(1)")
    fix = "set VersioningConfiguration: {Status: Enabled}"
    resource_types = ("AWS::S3::Bucket",)
    evidence = ("VersioningConfiguration",)

    def check(self, s, lid, res):
        vc = hipaa.props(res).get("VersioningConfiguration")
        if not (isinstance(vc, dict) and vc.get("Status") == "Enabled"):
            yield hipaa.Fail(("Properties", "VersioningConfiguration"), f"bucket {lid}: versioning is not enabled")
