"""E9106: every S3 bucket encrypts objects by default with KMS."""

from generator.compliance import hipaa


class BucketEncryptedKms(hipaa.HipaaRule):
    id = "E9106"
    shortdesc = "S3 buckets encrypted with KMS by default"
    description = "AWS::S3::Bucket needs BucketEncryption with SSEAlgorithm aws:kms (or aws:kms:dsse)."
    hipaa = ("164.312(a)(2)(iv)", "164.312(e)(2)(ii)")
    fix = "set BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm: aws:kms"
    resource_types = ("AWS::S3::Bucket",)
    evidence = ("BucketEncryption",)

    def check(self, s, lid, res):
        enc = hipaa.props(res).get("BucketEncryption")
        rules = hipaa.as_list(enc.get("ServerSideEncryptionConfiguration")) if isinstance(enc, dict) else []
        algos = [((r.get("ServerSideEncryptionByDefault") or {}).get("SSEAlgorithm")) for r in rules
                 if isinstance(r, dict)]
        if not algos:
            yield hipaa.Fail(("Properties", "BucketEncryption"), f"bucket {lid}: no default encryption")
        elif not all(a in ("aws:kms", "aws:kms:dsse") for a in algos):
            yield hipaa.Fail(("Properties", "BucketEncryption", "ServerSideEncryptionConfiguration"),
                             f"bucket {lid}: SSEAlgorithm is {', '.join(map(str, algos))}, not aws:kms")
