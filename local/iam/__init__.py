"""IAM enforced offline: each local function's calls are allowed or refused by its role's
policies as synthesized (docs/local-stack.md, "IAM")."""
