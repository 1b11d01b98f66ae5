"""E9002: every checkov skip written in a resource's Metadata has an id and a reason."""

from cfnlint.rules import RuleMatch

from generator.compliance import hipaa


class CheckovSkipHasReason(hipaa.HipaaRule):
    id = "E9002"
    shortdesc = "checkov skips give a reason"
    description = ("Metadata.checkov.skip on a resource is a list of {id, comment}; the comment is the reason "
                   "the check does not apply, shown in the compliance report.")
    hipaa = ("164.316(b)(1)",)
    fix = 'write Metadata: {"checkov": {"skip": [{"id": "CKV_AWS_n", "comment": "why"}]}}'

    def match(self, cfn):
        out = []
        for lid, res in (cfn.template.get("Resources") or {}).items():
            meta = res.get("Metadata") if isinstance(res, dict) else None
            block = meta.get("checkov") if isinstance(meta, dict) else None
            if block is None:
                continue
            skips = block.get("skip") if isinstance(block, dict) else None
            if not isinstance(skips, list):
                out.append(RuleMatch(["Resources", lid, "Metadata", "checkov"],
                                     f"checkov metadata must be {{\"skip\": [...]}} (fix: {self.fix})"))
                continue
            for i, skip in enumerate(skips):
                ok = isinstance(skip, dict) and isinstance(skip.get("id"), str) and skip["id"].startswith("CKV") \
                    and isinstance(skip.get("comment"), str) and skip["comment"].strip()
                if not ok:
                    out.append(RuleMatch(["Resources", lid, "Metadata", "checkov", "skip", i],
                                         f"checkov skip needs an id (CKV_...) and a comment (fix: {self.fix})"))
        return out
