locals {
  public_host = var.public_dns_name != "" ? var.public_dns_name : aws_lb.edge.dns_name
  rpc_url     = var.rpc_listener_port == 443 ? "https://${local.public_host}" : "https://${local.public_host}:${var.rpc_listener_port}"
  api_url     = "https://${local.public_host}:${var.api_listener_port}"
}

output "enode_host" {
  description = "Host of the cluster enode: the load balancer's first Elastic IP (what the nodes advertise as public_host), port 30303."
  value       = aws_eip.nlb[0].public_ip
}

output "enode_url" {
  description = "The cluster enode operators configure; the public key is the cluster key's (GET <api_url>/api/v1/bootnodes lists it complete, first entry)."
  value       = "enode://<cluster public key>@${aws_eip.nlb[0].public_ip}:30303"
}

output "bootnodes_url" {
  description = "REST endpoint listing the cluster enode first, then each instance's own."
  value       = "${local.api_url}/api/v1/bootnodes"
}

output "rpc_url" {
  description = "JSON-RPC endpoint (TLS at the load balancer)."
  value       = local.rpc_url
}

output "api_url" {
  description = "REST API endpoint (TLS at the load balancer): /api/v1/status, /health/ready, ..."
  value       = local.api_url
}

output "load_balancer_dns_name" {
  description = "DNS name of the network load balancer: point public_dns_name (e.g. sync.hypasis.io) at it, or at the Elastic IPs."
  value       = aws_lb.edge.dns_name
}

output "load_balancer_ips" {
  description = "The load balancer's Elastic IPs, one per zone."
  value       = aws_eip.nlb[*].public_ip
}

output "redis_configuration_endpoint" {
  description = "Configuration endpoint of the ElastiCache Redis Cluster (TLS, AUTH token in SSM)."
  value       = aws_elasticache_replication_group.redis.configuration_endpoint_address
}

output "log_group" {
  description = "CloudWatch log group of the sync instances (one stream per EC2 instance id)."
  value       = aws_cloudwatch_log_group.nodes.name
}

output "history_bucket" {
  description = "S3 bucket holding the sealed history segments (under the chain's prefix)."
  value       = aws_s3_bucket.history.bucket
}
