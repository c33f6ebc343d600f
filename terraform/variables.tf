variable "region" {
  type        = string
  description = "AWS region to deploy into, e.g. eu-central-1."
}

variable "name" {
  type        = string
  description = "Name of this cluster; prefixes every resource (2-24 lowercase letters, digits or -, so that target group names stay within 32 characters)."
  default     = "hypasis-sync"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,23}$", var.name))
    error_message = "name must be 2-24 lowercase letters, digits or '-', starting with a letter."
  }
}

variable "vpc_cidr" {
  type        = string
  description = "CIDR block of the new VPC; split into 3 public (load balancer, NAT) and 3 private (instances, Redis) subnets, one of each per zone."
  default     = "10.40.0.0/16"
}

variable "availability_zones" {
  type        = list(string)
  description = "Exactly three availability zones of the region; empty = the region's first three."
  default     = []

  validation {
    condition     = length(var.availability_zones) == 0 || length(var.availability_zones) == 3
    error_message = "Give exactly three availability zones, or none."
  }
}

variable "image" {
  type        = string
  description = "Container image of hypasis-sync (built from the repository's Dockerfile), e.g. 123456789012.dkr.ecr.eu-central-1.amazonaws.com/hypasis-sync:0.1.0."
}

variable "chain" {
  type        = string
  description = "The chain setting of the node: polygon-mainnet or polygon-amoy."
  default     = "polygon-mainnet"
}

variable "instance_count" {
  type        = number
  description = "Sync instances in the auto-scaling group (desired; the group may range from min_instances to max_instances)."
  default     = 3
}

variable "min_instances" {
  type        = number
  description = "Fewest sync instances the auto-scaling group keeps."
  default     = 2
}

variable "max_instances" {
  type        = number
  description = "Most sync instances the auto-scaling group may run (scaling out, rolling replacements)."
  default     = 9
}

variable "instance_type" {
  type        = string
  description = "EC2 instance type of the sync nodes (the node is one process; memory holds the hot tier and the JSON-RPC cache)."
  default     = "c7i.xlarge"
}

variable "ami_id" {
  type        = string
  description = "AMI of the sync nodes; empty = the latest Amazon Linux 2023 (user_data installs Docker with dnf)."
  default     = ""
}

variable "root_volume_gb" {
  type        = number
  description = "Root EBS volume size of each sync node, in GiB (image, logs, the instance key, and the local cache of history segments: history_cache_mb)."
  default     = 80
}

variable "max_peers" {
  type        = number
  description = "The node's max_peers: devp2p peers per instance."
  default     = 500
}

variable "upstream_urls_parameter" {
  type        = string
  description = "Name of an SSM SecureString parameter holding the upstream Polygon JSON-RPC URLs, comma-separated in failover order (they carry API keys; become POLYGON_RPC_1..9)."
}

variable "eth_l1_rpc_url_parameter" {
  type        = string
  description = "Name of an SSM SecureString parameter holding the Ethereum L1 JSON-RPC URL (checkpoints); empty = no L1 checkpoints."
  default     = ""
}

variable "heimdall_url" {
  type        = string
  description = "The node's heimdall_url (milestones, checkpoints, spans)."
  default     = "https://heimdall-api.polygon.technology"
}

variable "cluster_key_parameter" {
  type        = string
  description = "Name of an SSM SecureString parameter holding the cluster devp2p key (64 hex characters): the one enode every instance answers to. Create it before apply; it never enters the Terraform state."
}

variable "jwt_secret_parameter" {
  type        = string
  description = "Name of an SSM SecureString parameter holding the node's jwt_secret (32+ characters, signs admin tokens); created before apply, outside the state."
}

variable "certificate_arn" {
  type        = string
  description = "ARN of the ACM certificate for the TLS listeners (JSON-RPC and REST API), valid for public_dns_name."
}

variable "public_dns_name" {
  type        = string
  description = "DNS name that points at the load balancer (e.g. sync.hypasis.io), used in the RPC and API URLs; empty = the load balancer's own DNS name."
  default     = ""
}

variable "rpc_listener_port" {
  type        = number
  description = "TLS port of the load balancer for JSON-RPC."
  default     = 443
}

variable "api_listener_port" {
  type        = number
  description = "TLS port of the load balancer for the REST API (/api/v1/..., /health/...). A network load balancer routes by port, not path, so the API needs its own."
  default     = 8443
}

variable "redis_node_type" {
  type        = string
  description = "ElastiCache node type of each Redis shard node."
  default     = "cache.r7g.xlarge"
}

variable "redis_shards" {
  type        = number
  description = "Redis Cluster shards (node groups); blocks spread over them by key slot."
  default     = 3
}

variable "redis_replicas_per_shard" {
  type        = number
  description = "Replicas of each Redis shard (in other zones; automatic failover needs at least 1)."
  default     = 1
}

variable "admin_cidrs" {
  type        = list(string)
  description = "CIDRs that may reach the instances' REST API and /metrics directly (Prometheus, operators over a VPN); the VPC itself always may."
  default     = []
}

variable "log_retention_days" {
  type        = number
  description = "Days CloudWatch keeps the nodes' logs."
  default     = 30
}

variable "history_bucket_name" {
  type        = string
  description = "S3 bucket for sealed history segments; empty derives <name>-history-<account>-<region>."
  default     = ""
}

variable "history_force_destroy" {
  type        = bool
  description = "Let `terraform destroy` delete the history bucket with its segments (they can be sealed again from upstream, slowly)."
  default     = false
}

variable "history_cache_mb" {
  type        = number
  description = "Megabytes of history segments each instance caches on its root volume (keep root_volume_gb above this plus ~20 GB)."
  default     = 51200
}

variable "history_hot_window" {
  type        = number
  description = "Blocks below the head kept in Redis once sealed; older history is read from the bucket."
  default     = 50000
}
