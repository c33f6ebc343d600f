# The network load balancer: one public address for the whole cluster.
#
#   30303 TCP_UDP -> instances :30303   devp2p and discv4; the client address is preserved
#   443   TLS     -> instances :8545    JSON-RPC; PROXY protocol v2 names the client
#   8443  TLS     -> instances :8080    REST API; PROXY protocol v2 names the client
#
# Why no PROXY protocol on 30303: TCP and UDP on one port need a TCP_UDP listener and target
# group, and AWS always preserves the client address there (it cannot be turned off). A PROXY
# header would then arrive from the peer's own address, which is not in the nodes'
# proxy_protocol_from, and the node would close the connection. So devp2p relies on client IP
# preservation (the node sees the real peer without a header), and the TLS listeners, whose
# target groups turn preservation off, use PROXY protocol v2 from the load balancer's subnets.
#
# Elastic IPs give the load balancer fixed addresses: the first is the host of the cluster
# enode. Cross-zone balancing spreads each address's peers over the instances of every zone.

resource "aws_eip" "nlb" {
  count  = 3
  domain = "vpc"

  tags = { Name = "${var.name}-nlb-${local.zones[count.index]}" }
}

resource "aws_lb" "edge" {
  name                             = var.name
  load_balancer_type               = "network"
  internal                         = false
  enable_cross_zone_load_balancing = true

  dynamic "subnet_mapping" {
    for_each = range(3)
    content {
      subnet_id     = aws_subnet.public[subnet_mapping.value].id
      allocation_id = aws_eip.nlb[subnet_mapping.value].id
    }
  }
}

resource "aws_lb_target_group" "p2p" {
  name        = "${var.name}-p2p"
  port        = 30303
  protocol    = "TCP_UDP"
  target_type = "instance"
  vpc_id      = aws_vpc.main.id
  # Peers are long-lived: give them time to finish a download before an instance leaves.
  deregistration_delay = 120
  proxy_protocol_v2    = false

  health_check {
    protocol            = "HTTP"
    port                = "8080"
    path                = "/health/ready"
    matcher             = "200"
    interval            = 10
    healthy_threshold   = 2
    unhealthy_threshold = 2
  }
}

resource "aws_lb_target_group" "rpc" {
  name                 = "${var.name}-rpc"
  port                 = 8545
  protocol             = "TCP"
  target_type          = "instance"
  vpc_id               = aws_vpc.main.id
  deregistration_delay = 30
  # The node reads the header from these subnets only (proxy_protocol_from in user_data).
  proxy_protocol_v2  = true
  preserve_client_ip = "false"

  health_check {
    protocol            = "HTTP"
    port                = "8080"
    path                = "/health/ready"
    matcher             = "200"
    interval            = 10
    healthy_threshold   = 2
    unhealthy_threshold = 2
  }
}

resource "aws_lb_target_group" "api" {
  name                 = "${var.name}-api"
  port                 = 8080
  protocol             = "TCP"
  target_type          = "instance"
  vpc_id               = aws_vpc.main.id
  deregistration_delay = 30
  proxy_protocol_v2    = true
  preserve_client_ip   = "false"

  # The API answers while a node has no head yet (status, sync progress): live, not ready.
  health_check {
    protocol            = "HTTP"
    port                = "8080"
    path                = "/health/live"
    matcher             = "200"
    interval            = 10
    healthy_threshold   = 2
    unhealthy_threshold = 2
  }
}

resource "aws_lb_listener" "p2p" {
  load_balancer_arn = aws_lb.edge.arn
  port              = 30303
  protocol          = "TCP_UDP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.p2p.arn
  }
}

resource "aws_lb_listener" "rpc" {
  load_balancer_arn = aws_lb.edge.arn
  port              = var.rpc_listener_port
  protocol          = "TLS"
  certificate_arn   = var.certificate_arn
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.rpc.arn
  }
}

resource "aws_lb_listener" "api" {
  load_balancer_arn = aws_lb.edge.arn
  port              = var.api_listener_port
  protocol          = "TLS"
  certificate_arn   = var.certificate_arn
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.api.arn
  }
}
