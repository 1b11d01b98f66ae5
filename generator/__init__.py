"""hipaa-catalog: compose, validate and publish HIPAA-compliant CloudFormation products."""

__version__ = "0.1.0"
