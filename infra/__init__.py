"""The CDK side of the project: one stack composed of constructs, configured from cdk.json."""
