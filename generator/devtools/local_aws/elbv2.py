"""Elastic Load Balancing v2 for the local endpoint: moto's, except that a load balancer with deletion
protection cannot be deleted.

"You can't delete a load balancer if deletion protection is enabled" (*Delete an Application Load
Balancer*, Elastic Load Balancing User Guide,
https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-delete.html); moto deletes
it anyway.  The refusal is AWS's ``OperationNotPermitted`` (HTTP 400) with the message AWS gives, as seen in
public reports (aws-cloudformation/rain#187, rebuy-de/aws-nuke#258): "Load balancer '<arn>' cannot be deleted
because deletion protection is enabled".  DeleteLoadBalancer and a stack deleting an
``AWS::ElasticLoadBalancingV2::LoadBalancer`` both go through the backend, so both are refused.
"""

from __future__ import annotations

from typing import Any


def register() -> None:
    from moto.elbv2.exceptions import ELBClientError
    from moto.elbv2.models import ELBv2Backend

    moto_delete = ELBv2Backend.delete_load_balancer
    if getattr(moto_delete, "refuses_protected", False):
        return  # registered already (one server per process, but tests may build several apps)

    def delete_load_balancer(self: Any, arn: str) -> None:
        balancer = self.load_balancers.get(arn)
        if balancer is not None and str(balancer.attrs.get("deletion_protection.enabled", "false")).lower() == "true":
            raise ELBClientError("OperationNotPermitted",
                                 f"Load balancer '{arn}' cannot be deleted because deletion protection is enabled")
        moto_delete(self, arn)

    delete_load_balancer.refuses_protected = True  # type: ignore[attr-defined]
    ELBv2Backend.delete_load_balancer = delete_load_balancer  # type: ignore[method-assign]
