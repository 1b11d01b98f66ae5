"""E9410: the resources that hold audit evidence, and the keys that encrypt them, outlive their stack.

"If a resource has no DeletionPolicy attribute, AWS CloudFormation deletes the resource by default", and
when an update replaces a resource, "By default, CloudFormation then deletes the old resource" (*DeletionPolicy
attribute*, *UpdateReplacePolicy attribute*, AWS CloudFormation User Guide,
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-deletionpolicy.html,
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-updatereplacepolicy.html).
A stack is deleted more often than one thinks: a StackSets stack instance removed from an account, an
account leaving a target OU, a product terminated.  Buckets, log groups and backup vaults hold the logs and
backups, so both policies must be ``Retain``; a KMS key one of them names must be kept too, since "When you
remove a KMS key from a CloudFormation stack, AWS KMS schedules the KMS key for deletion" (*AWS::KMS::Key*,
PendingWindowInDays, https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-kms-key.html),
after which what it encrypts cannot be read.
"""

from generator.compliance import hipaa

HOLDERS = ("AWS::S3::Bucket", "AWS::Logs::LogGroup", "AWS::Backup::BackupVault")
KEY = "AWS::KMS::Key"
POLICIES = ("DeletionPolicy", "UpdateReplacePolicy")


def _encrypts(s, lid: str) -> list[str]:
    """The evidence holders (in this scenario) whose properties name key ``lid``."""
    return sorted(h for h, res in s.of_type(*HOLDERS) if lid in hipaa.referenced(hipaa.props(res)))


class EvidenceRetained(hipaa.HipaaRule):
    id = "E9410"
    shortdesc = "Evidence and its keys retained"
    description = ("AWS::S3::Bucket, AWS::Logs::LogGroup, AWS::Backup::BackupVault, and every AWS::KMS::Key "
                   "their properties name, have DeletionPolicy and UpdateReplacePolicy Retain.")
    hipaa = ("164.312(b)",)   # as E9401: audit records kept, here past their stack
    fix = "set DeletionPolicy: Retain and UpdateReplacePolicy: Retain on the resource"
    resource_types = (*HOLDERS, KEY)

    def applies(self, s):
        for lid, res in s.of_type(*self.resource_types):
            if res.get("Type") != KEY or _encrypts(s, lid):
                yield lid, res

    def shown(self, s, lid, res):
        values = [res.get(name) for name in POLICIES]
        out = ([(", ".join(POLICIES), values[0])] if len(set(values)) == 1
               else [(name, value) for name, value in zip(POLICIES, values)])
        if res.get("Type") == KEY:
            out.append(("encrypts", ", ".join(_encrypts(s, lid))))
        return out

    def check(self, s, lid, res):
        for name in POLICIES:
            if res.get(name) != "Retain":
                found = res.get(name)
                why = f" (it encrypts {', '.join(_encrypts(s, lid))})" if res.get("Type") == KEY else ""
                yield hipaa.Fail((name,), f"{res.get('Type')} {lid}: {name} is "
                                          f"{found if found is not None else 'not set'}, not Retain{why}")
