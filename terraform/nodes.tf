# The sync instances: an auto-scaling group across the three private subnets, each instance
# running the hypasis-sync container (user_data.sh.tftpl) on the host network, registered in
# the three target groups. A change of image or configuration rolls the instances one by one
# (instance refresh), each replacement healthy before the next goes.

data "aws_ssm_parameter" "al2023" {
  name = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
}

resource "aws_cloudwatch_log_group" "nodes" {
  name              = "/${var.name}/hypasis-sync"
  retention_in_days = var.log_retention_days
}

data "aws_iam_policy_document" "assume_ec2" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "node" {
  statement {
    sid       = "ReadSecrets"
    actions   = ["ssm:GetParameter"]
    resources = [for p in local.secret_parameters : "${local.parameter_arn_prefix}${trimprefix(p, "/")}"]
  }

  statement {
    sid       = "DecryptSecrets"
    actions   = ["kms:Decrypt"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["ssm.${var.region}.amazonaws.com"]
    }
  }

  statement {
    sid       = "ListHistory"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.history.arn]
  }

  statement {
    sid       = "ReadWriteHistory"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${aws_s3_bucket.history.arn}/*"]
  }

  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.nodes.arn}:*"]
  }
}

resource "aws_iam_role" "node" {
  name               = "${var.name}-node"
  assume_role_policy = data.aws_iam_policy_document.assume_ec2.json
}

resource "aws_iam_role_policy" "node" {
  name   = "hypasis-sync"
  role   = aws_iam_role.node.id
  policy = data.aws_iam_policy_document.node.json
}

# Shell access through SSM Session Manager (no SSH, no open port) and image pulls from ECR.
resource "aws_iam_role_policy_attachment" "ssm_core" {
  role       = aws_iam_role.node.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_role_policy_attachment" "ecr_read" {
  role       = aws_iam_role.node.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"
}

resource "aws_iam_instance_profile" "node" {
  name = "${var.name}-node"
  role = aws_iam_role.node.name
}

resource "aws_launch_template" "node" {
  name_prefix            = "${var.name}-"
  image_id               = var.ami_id != "" ? var.ami_id : data.aws_ssm_parameter.al2023.value
  instance_type          = var.instance_type
  vpc_security_group_ids = [aws_security_group.nodes.id]

  iam_instance_profile {
    arn = aws_iam_instance_profile.node.arn
  }

  metadata_options {
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size           = var.root_volume_gb
      volume_type           = "gp3"
      encrypted             = true
      delete_on_termination = true
    }
  }

  user_data = base64encode(templatefile("${path.module}/user_data.sh.tftpl", {
    region                   = var.region
    image                    = var.image
    chain                    = var.chain
    max_peers                = var.max_peers
    heimdall_url             = var.heimdall_url
    public_host              = aws_eip.nlb[0].public_ip
    proxy_protocol_from      = join(",", local.public_subnets)
    redis_url                = "redis-cluster://${aws_elasticache_replication_group.redis.configuration_endpoint_address}:6379"
    log_group                = aws_cloudwatch_log_group.nodes.name
    cluster_key_parameter    = var.cluster_key_parameter
    jwt_secret_parameter     = var.jwt_secret_parameter
    upstream_urls_parameter  = var.upstream_urls_parameter
    eth_l1_rpc_url_parameter = var.eth_l1_rpc_url_parameter
    redis_token_parameter    = aws_ssm_parameter.redis_auth_token.name
    history_url              = "s3://${aws_s3_bucket.history.bucket}/${var.chain}"
    history_cache_mb         = var.history_cache_mb
    history_hot_window       = var.history_hot_window
  }))

  tag_specifications {
    resource_type = "instance"
    tags          = { Name = "${var.name}-node" }
  }
}

resource "aws_autoscaling_group" "nodes" {
  name                      = "${var.name}-nodes"
  vpc_zone_identifier       = aws_subnet.private[*].id
  min_size                  = var.min_instances
  max_size                  = var.max_instances
  desired_capacity          = var.instance_count
  health_check_type         = "ELB"
  health_check_grace_period = 300
  target_group_arns         = [aws_lb_target_group.p2p.arn, aws_lb_target_group.rpc.arn, aws_lb_target_group.api.arn]

  launch_template {
    id      = aws_launch_template.node.id
    version = aws_launch_template.node.latest_version
  }

  instance_refresh {
    strategy = "Rolling"
    preferences {
      min_healthy_percentage = 66
      instance_warmup        = 120
    }
  }

  tag {
    key                 = "Name"
    value               = "${var.name}-node"
    propagate_at_launch = true
  }
}
