"""The synthesized CloudFormation template the local stack runs (docs/local-stack.md)."""
