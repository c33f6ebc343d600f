# Secrets stay in SSM Parameter Store (SecureString). The cluster key, the JWT secret and the
# upstream URLs are created by the team before `terraform apply` (README.md, step 1), so they
# never enter the Terraform state; the instances read them at boot. The Redis auth token is
# made here because ElastiCache takes it as an argument (it is in the state: keep the state in
# an encrypted backend), and stored in SSM for the instances.

data "aws_caller_identity" "current" {}

locals {
  parameter_arn_prefix = "arn:aws:ssm:${var.region}:${data.aws_caller_identity.current.account_id}:parameter/"
  secret_parameters = compact([
    var.cluster_key_parameter,
    var.jwt_secret_parameter,
    var.upstream_urls_parameter,
    var.eth_l1_rpc_url_parameter,
    aws_ssm_parameter.redis_auth_token.name,
  ])
}

resource "random_password" "redis_auth_token" {
  length  = 48
  special = false
}

resource "aws_ssm_parameter" "redis_auth_token" {
  name        = "/${var.name}/redis-auth-token"
  description = "AUTH token of the ${var.name} ElastiCache Redis (the nodes' REDIS_PASSWORD)"
  type        = "SecureString"
  value       = random_password.redis_auth_token.result
}
