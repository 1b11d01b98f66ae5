"""E9003: every Guard registry rule suppressed in a resource's Metadata has a reason, in a safe shape."""

from cfnlint.rules import RuleMatch

from generator.blocks.catalog import GUARD_KEY, GUARD_REASONS_KEY, GUARD_RULES_KEY, METADATA_KEY
from generator.compliance import guard, hipaa


class GuardSuppressionHasReason(hipaa.HipaaRule):
    id = "E9003"
    shortdesc = "Guard suppressions give a reason"
    description = (f"Metadata.{GUARD_KEY}.{GUARD_RULES_KEY} on a resource is a non-empty list of AWS Guard Rules "
                   f"Registry rule names, each with a reason in Metadata.{METADATA_KEY}.{GUARD_REASONS_KEY} "
                   "({rule, reason}), shown in the compliance report.  An empty list or a non-string entry makes "
                   "every registry rule skip the resource, and cfn_nag suppressions silence registry rules too: "
                   "both are refused.")
    hipaa = ("164.316(b)(1)",)
    fix = (f'write Metadata: {{"{GUARD_KEY}": {{"{GUARD_RULES_KEY}": ["RULE_NAME"]}}, '
           f'"{METADATA_KEY}": {{"{GUARD_REASONS_KEY}": [{{"rule": "RULE_NAME", "reason": "why"}}]}}}}')

    def match(self, cfn):
        out = []
        for lid, res in (cfn.template.get("Resources") or {}).items():
            for path, message in guard.declared(res).problems:
                out.append(RuleMatch(["Resources", lid, *path], f"{message} (fix: {self.fix})"))
        return out
