"""E9000: the template's conditions can be evaluated in every scenario (within the cap)."""

from cfnlint.rules import RuleMatch

from generator.compliance import hipaa
from generator.errors import ScenarioError


class ScenariosEvaluable(hipaa.HipaaRule):
    id = "E9000"
    shortdesc = "Conditions evaluable in every scenario"
    description = ("The HIPAA rules evaluate every combination of the values of the parameters the Conditions "
                   "depend on; the template must allow that (defined conditions, not too many scenarios).")
    hipaa = ("164.316(b)(1)",)
    fix = "give condition parameters AllowedValues and keep the scenarios under the cap"

    def match(self, cfn):
        try:
            hipaa.scenarios_of(cfn.template)
        except ScenarioError as exc:
            return [RuleMatch(["Conditions"], f"{exc} (fix: {self.fix})")]
        return []
