"""CloudFormation responses: moto's, less its own no-change check.

moto's CreateChangeSet refuses an update whose template and parameters are unchanged with
``ValidationError: No updates are to be performed.``; AWS creates the change set and marks it
``FAILED`` with "The submitted information didn't contain changes", which the backend does.  For
UpdateStack the backend answers "No updates are to be performed." itself, after resolving the
parameters as CloudFormation does.
"""

from __future__ import annotations

from typing import Any

from moto.cloudformation.responses import CloudFormationResponse as MotoCloudFormationResponse


class CloudFormationResponse(MotoCloudFormationResponse):
    def _validate_different_update(self, incoming_params: Any, stack_body: str, old_stack: Any) -> None:
        return None  # see the module docstring
