# ElastiCache Redis in cluster mode, TLS in transit, AUTH token, one replica per shard in
# another zone. The nodes connect with redis-cluster://<configuration endpoint>:6379 and
# redis_tls_ca_file (the system CA bundle: ElastiCache's certificates are publicly trusted),
# which turns TLS on.

resource "aws_elasticache_subnet_group" "redis" {
  name       = "${var.name}-redis"
  subnet_ids = aws_subnet.private[*].id
}

resource "aws_elasticache_parameter_group" "redis" {
  name   = "${var.name}-redis7-cluster"
  family = "redis7"

  parameter {
    name  = "cluster-enabled"
    value = "yes"
  }

  # Never evict: the leader lease, the fencing epoch and the gap tracker are keys that must not
  # vanish. A full Redis refuses writes instead; the nodes fall back to their hot tier and
  # HypasisRedisFallback pages. Add shards before that.
  parameter {
    name  = "maxmemory-policy"
    value = "noeviction"
  }
}

resource "aws_elasticache_replication_group" "redis" {
  replication_group_id = "${var.name}-redis"
  description          = "Hypasis Sync shared block store (${var.name})"
  engine               = "redis"
  engine_version       = "7.1"
  node_type            = var.redis_node_type
  port                 = 6379
  parameter_group_name = aws_elasticache_parameter_group.redis.name
  subnet_group_name    = aws_elasticache_subnet_group.redis.name
  security_group_ids   = [aws_security_group.redis.id]

  num_node_groups            = var.redis_shards
  replicas_per_node_group    = var.redis_replicas_per_shard
  automatic_failover_enabled = true
  multi_az_enabled           = var.redis_replicas_per_shard > 0

  transit_encryption_enabled = true
  at_rest_encryption_enabled = true
  auth_token                 = random_password.redis_auth_token.result

  snapshot_retention_limit = 7
  apply_immediately        = false
}
