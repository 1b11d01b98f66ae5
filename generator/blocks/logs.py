"""CloudWatch Logs building blocks: log groups are always KMS-encrypted and kept at least a year."""

from __future__ import annotations

from troposphere import logs

from generator.errors import BuildError

MIN_RETENTION_DAYS = 365
RETENTION_VALUES = (365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)


def log_group(logical_id: str, kms_key_arn, *, name=None, retention_days: int = MIN_RETENTION_DAYS,
              condition: str | None = None, tags=None) -> logs.LogGroup:
    if retention_days not in RETENTION_VALUES:
        raise BuildError(f"log group {logical_id}: RetentionInDays {retention_days} is not allowed; "
                         f"allowed (HIPAA 164.312(b), at least a year): {RETENTION_VALUES}")
    kwargs = {"KmsKeyId": kms_key_arn, "RetentionInDays": retention_days}
    if name is not None:
        kwargs["LogGroupName"] = name
    if condition:
        kwargs["Condition"] = condition
    if tags is not None:
        kwargs["Tags"] = tags
    return logs.LogGroup(logical_id, **kwargs)
