"""E9601: every EBS data volume is selected by a backup plan."""

from generator.compliance import hipaa


def _selected(s, lid, res):
    tags = {hipaa.text(t.get("Key")): hipaa.text(t.get("Value"))
            for t in hipaa.as_list(hipaa.props(res).get("Tags")) if isinstance(t, dict)}
    for sel_id, sel in s.of_type("AWS::Backup::BackupSelection"):
        spec = hipaa.props(sel).get("BackupSelection")
        if not isinstance(spec, dict):
            continue
        if lid in hipaa.referenced(spec.get("Resources")) or "*" in hipaa.as_list(spec.get("Resources")):
            return sel_id
        for cond in hipaa.as_list(spec.get("ListOfTags")):
            if isinstance(cond, dict) and cond.get("ConditionType") == "STRINGEQUALS" and \
                    tags.get(hipaa.text(cond.get("ConditionKey"))) == hipaa.text(cond.get("ConditionValue")):
                return sel_id
    return ""


class VolumeInBackupPlan(hipaa.HipaaRule):
    id = "E9601"
    shortdesc = "EBS volumes in a backup plan"
    description = ("Every AWS::EC2::Volume is selected, in the same scenario, by an AWS::Backup::BackupSelection "
                   "(by ARN reference or by a STRINGEQUALS tag condition matching the volume's tags).")
    hipaa = ("164.308(a)(7)(i)", "164.308(a)(7)(ii)(A)", "164.308(a)(7)(ii)(B)")
    fix = "add an AWS::Backup::BackupSelection whose Resources name the volume's ARN (same Condition as the volume)"
    resource_types = ("AWS::EC2::Volume",)
    evidence = ("Tags",)

    def shown(self, s, lid, res):
        return [("selected by", _selected(s, lid, res) or None)]

    def check(self, s, lid, res):
        if not _selected(s, lid, res):
            yield hipaa.Fail((), f"volume {lid}: not selected by any AWS::Backup::BackupSelection")
