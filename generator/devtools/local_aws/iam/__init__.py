"""IAM as the local endpoint enforces it where it provisions: Service Catalog's launch role.

* ``policy``: the policy evaluator (pure; AWS's evaluation order).
* ``requests``: the authorization requests of one CloudFormation resource operation (what
  ``generator.blocks.handlers`` says CloudFormation asks for, with the ARNs and condition keys of the
  resources in this account).
* ``enforcement``: the session a provisioning acts as (the launch role, assumed by Service Catalog), the
  switch that turns enforcement off, the log of every request and its decision, AccessDenied.

moto's own IAM access control stays off (it cannot evaluate these policies: research brief 13, section 6).
"""
