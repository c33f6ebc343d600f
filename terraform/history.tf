# History tier: sealed, checkpoint-verified segments of old blocks (docs/ARCHITECTURE.md
# "History tier"). One private bucket; only the nodes' role may read, write and list it; reached
# through a gateway endpoint, so reads from the nodes cross no NAT gateway and pay no egress.

locals {
  history_bucket = var.history_bucket_name != "" ? var.history_bucket_name : "${var.name}-history-${data.aws_caller_identity.current.account_id}-${var.region}"
}

data "aws_caller_identity" "current" {}

resource "aws_s3_bucket" "history" {
  bucket        = local.history_bucket
  force_destroy = var.history_force_destroy
  tags          = { Name = "${var.name}-history" }
}

resource "aws_s3_bucket_public_access_block" "history" {
  bucket                  = aws_s3_bucket.history.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "history" {
  bucket = aws_s3_bucket.history.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "history" {
  bucket = aws_s3_bucket.history.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "history" {
  bucket = aws_s3_bucket.history.id
  rule {
    id     = "abort-incomplete-uploads"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

# Requests without TLS are refused, whoever makes them.
data "aws_iam_policy_document" "history_bucket" {
  statement {
    sid     = "DenyPlainHttp"
    effect  = "Deny"
    actions = ["s3:*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    resources = [aws_s3_bucket.history.arn, "${aws_s3_bucket.history.arn}/*"]
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "history" {
  bucket     = aws_s3_bucket.history.id
  policy     = data.aws_iam_policy_document.history_bucket.json
  depends_on = [aws_s3_bucket_public_access_block.history]
}

resource "aws_vpc_endpoint" "s3" {
  vpc_id            = aws_vpc.main.id
  service_name      = "com.amazonaws.${var.region}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = [aws_route_table.private.id]
  tags              = { Name = "${var.name}-s3" }
}
