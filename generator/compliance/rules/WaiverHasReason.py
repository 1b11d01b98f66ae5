"""E9001: a HIPAA rule is waived only on the resource itself, naming a known rule, with a reason.

The same metadata block may say why a bucket is not replicated (``not-replicated``: a reason, for the
reviewers and for the HIPAA Guard rule S3_BUCKET_REPLICATION_ENABLED, which has no project rule of its own).
"""

from cfnlint.rules import RuleMatch

from generator.compliance import hipaa


class WaiverHasReason(hipaa.HipaaRule):
    id = "E9001"
    shortdesc = "Waivers name a HIPAA rule and give a reason"
    description = ("Metadata.hipaa-catalog.waivers on a resource is a list of {rule, reason}: rule is the id "
                   "of a HIPAA rule (not E9000-E9002), reason a written justification shown in the report; "
                   "Metadata.hipaa-catalog.not-replicated, if present, is a non-empty reason.")
    hipaa = ("164.316(b)(1)",)
    fix = 'write Metadata: {"hipaa-catalog": {"waivers": [{"rule": "E9xxx", "reason": "why"}]}}'

    def match(self, cfn):
        out = []
        for lid, res in (cfn.template.get("Resources") or {}).items():
            meta = res.get("Metadata") if isinstance(res, dict) else None
            if not isinstance(meta, dict) or hipaa.METADATA_KEY not in meta:
                continue
            base = ["Resources", lid, "Metadata", hipaa.METADATA_KEY]
            block = meta[hipaa.METADATA_KEY]
            if not isinstance(block, dict) or set(block) - {"waivers", hipaa.NOT_REPLICATED} or \
                    not isinstance(block.get("waivers", []), list):
                out.append(RuleMatch(base, f"{hipaa.METADATA_KEY} metadata must be {{\"waivers\": [...], "
                                           f"\"{hipaa.NOT_REPLICATED}\": \"reason\"}} (fix: {self.fix})"))
                continue
            why = block.get(hipaa.NOT_REPLICATED, "given")
            if not isinstance(why, str) or not why.strip():
                out.append(RuleMatch(base + [hipaa.NOT_REPLICATED], f"{hipaa.NOT_REPLICATED} needs a reason "
                                                                   f"(fix: {self.fix})"))
            for i, w in enumerate(block.get("waivers", [])):
                path = base + ["waivers", i]
                rule = w.get("rule") if isinstance(w, dict) else None
                reason = w.get("reason") if isinstance(w, dict) else None
                if not isinstance(rule, str) or rule not in hipaa.REGISTRY or rule in ("E9000", "E9001", "E9002"):
                    out.append(RuleMatch(path + ["rule"], f"waiver names {rule!r}, not a waivable HIPAA rule "
                                                          f"(fix: {self.fix})"))
                if not isinstance(reason, str) or not reason.strip():
                    out.append(RuleMatch(path + ["reason"], f"waiver of {rule} has no reason (fix: {self.fix})"))
        return out
