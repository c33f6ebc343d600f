# Security groups. Open to the world: devp2p (30303 TCP and UDP; the load balancer keeps the
# peer's address, so the instances see and must admit it). JSON-RPC and the REST API are only
# open to the load balancer's subnets (TLS ends there) and, for the API and /metrics, to the VPC
# and admin_cidrs. Redis is open to the sync instances alone.

resource "aws_security_group" "nodes" {
  name        = "${var.name}-nodes"
  description = "Hypasis Sync instances"
  vpc_id      = aws_vpc.main.id

  ingress {
    description = "devp2p RLPx from peers (client address preserved by the load balancer)"
    protocol    = "tcp"
    from_port   = 30303
    to_port     = 30303
    cidr_blocks = ["0.0.0.0/0"]
  }

  ingress {
    description = "discv4 from peers"
    protocol    = "udp"
    from_port   = 30303
    to_port     = 30303
    cidr_blocks = ["0.0.0.0/0"]
  }

  ingress {
    description = "JSON-RPC from the load balancer (PROXY protocol v2)"
    protocol    = "tcp"
    from_port   = 8545
    to_port     = 8545
    cidr_blocks = local.public_subnets
  }

  ingress {
    description = "REST API, /health and /metrics from the VPC (load balancer, Prometheus) and admins"
    protocol    = "tcp"
    from_port   = 8080
    to_port     = 8080
    cidr_blocks = concat([var.vpc_cidr], var.admin_cidrs)
  }

  egress {
    description = "Upstreams, Heimdall, L1, SSM, the registry, Redis"
    protocol    = "-1"
    from_port   = 0
    to_port     = 0
    cidr_blocks = ["0.0.0.0/0"]
  }

  tags = { Name = "${var.name}-nodes" }
}

resource "aws_security_group" "redis" {
  name        = "${var.name}-redis"
  description = "Hypasis Sync Redis"
  vpc_id      = aws_vpc.main.id

  ingress {
    description     = "Redis (TLS) from the sync instances"
    protocol        = "tcp"
    from_port       = 6379
    to_port         = 6379
    security_groups = [aws_security_group.nodes.id]
  }

  tags = { Name = "${var.name}-redis" }
}
