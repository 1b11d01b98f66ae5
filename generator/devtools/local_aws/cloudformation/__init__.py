"""CloudFormation for the local endpoint: moto's, with the gaps our administrator commands hit filled in.

``register()`` (called when the server starts) makes moto build ``models.CloudFormationBackend`` for
every account and region, and adds the resource types of ``resources`` to moto's CloudFormation:

* change sets: Modify for parameter-only updates, ``Replacement`` / ``Details`` from the provider
  schemas' create-only properties (``changes``);
* ExecuteChangeSet: resource events, outputs, rollback of a failed create or update (``operations``);
* ``AWS::IAM::Group`` and ``AWS::EC2::SecurityGroupEgress`` (``resources``);
* an ``AWS::EC2::Instance``'s ``NetworkInterfaces`` (``instances``);
* DescribeStacks' parameters: the inputs, and ``ResolvedValue`` of SSM-typed ones (``stack_parameters``);
* service-managed StackSets across the organisation's accounts, with automatic deployment (``stacksets``);
* JSON template bodies read as JSON, not by moto's YAML parser (``templates``).
"""

from __future__ import annotations


def register() -> None:
    import moto.cloudformation.models as cfn_models
    from moto.cloudformation import parsing

    from . import resources  # noqa: F401  - defining its models registers them
    from . import instances, stack_parameters, stacksets, templates
    from .models import CloudFormationBackend

    instances.register()
    stacksets.register()
    stack_parameters.register()
    templates.register()
    cfn_models.cloudformation_backends.backend = CloudFormationBackend
    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()
