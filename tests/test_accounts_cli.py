"""`hipaa-catalog accounts`: the table made of the status data (the data itself: tests/test_organization.py)."""

from __future__ import annotations

from generator.cli import accounts


def test_rows_show_stacks_drift_visibility_and_versions():
    instance = {"stack_set": "s", "status": "CURRENT", "detailed_status": "SUCCEEDED", "drift_status": "DRIFTED"}
    data = {"accounts": [
        {"account_id": "111122223333", "name": "prod-1", "environment": "prod", "target": "ou-ab12-11111111",
         "baseline": {"us-east-1": instance, "us-west-2": None},
         "log_replica": {"us-east-1": instance, "us-west-2": {**instance, "drift_status": "IN_SYNC"}},
         "launch_role": {"us-east-1": instance},
         "portfolio_visible": {"us-east-1": True, "us-west-2": False},
         "provisioned_products": [{"region": "us-east-1", "name": "web", "product": "healthcare-web-server",
                                   "version": "2.0.0", "status": "AVAILABLE"}], "products_error": ""},
        {"account_id": "444455556666", "name": "test-1", "environment": "test", "target": "ou-ab12-22222222",
         "baseline": {"us-east-1": None}, "log_replica": {"us-east-1": None, "us-west-2": None},
         "launch_role": {"us-east-1": None}, "portfolio_visible": {"us-east-1": True},
         "provisioned_products": None, "products_error": "not read as OrganizationAccountAccessRole: access denied"}]}
    rows = accounts.rows(data)
    assert rows[0] == ("111122223333", "prod-1", "prod", "ou-ab12-11111111", "us-east-1:CURRENT/DRIFTED us-west-2:none",
                       "us-east-1:CURRENT/DRIFTED us-west-2:CURRENT/IN_SYNC", "us-east-1:CURRENT/DRIFTED",
                       "us-east-1:yes us-west-2:no",
                       "web healthcare-web-server 2.0.0 (us-east-1)")
    assert rows[1][4:] == ("us-east-1:none", "us-east-1:none us-west-2:none", "us-east-1:none", "us-east-1:yes",
                           "not read as OrganizationAccountAccessRole: access denied")
