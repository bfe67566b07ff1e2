locals {
  # expiration_days: how long an object is kept at all. Originals expire: they carry the uploader's EXIF
  # metadata, GPS position included; thumbnails expire with the job records that name them, so no
  # picture outlives its record (docs/security.md).
  buckets = {
    uploads    = { name = var.upload_bucket_name, prefix = var.upload_prefix, expiration_days = var.upload_expiration_days }
    thumbnails = { name = var.thumbnail_bucket_name, prefix = var.thumbnail_prefix, expiration_days = var.thumbnail_expiration_days }
  }
}

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_18:Server access logs would need a third bucket and cost more than the pipeline; CloudTrail data events can be enabled account-wide when required.
  #checkov:skip=CKV_AWS_144:Cross-region replication doubles storage cost; uploads are user-supplied originals and thumbnails can be regenerated.
  #checkov:skip=CKV2_AWS_62:Only the upload bucket has an event consumer (dispatch-tasks); the thumbnail bucket is written by the pipeline itself.
  for_each = local.buckets

  bucket = each.value.name
}

resource "aws_s3_bucket_ownership_controls" "this" {
  for_each = local.buckets

  bucket = aws_s3_bucket.this[each.key].id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  for_each = local.buckets

  bucket                  = aws_s3_bucket.this[each.key].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "this" {
  for_each = local.buckets

  bucket = aws_s3_bucket.this[each.key].id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  for_each = local.buckets

  bucket = aws_s3_bucket.this[each.key].id

  rule {
    # SSE-KMS with the AWS-managed aws/s3 key (no key id): no key policy to maintain, and S3 Bucket Keys
    # keep KMS requests (and their cost) low.
    apply_server_side_encryption_by_default {
      sse_algorithm = "aws:kms"
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  for_each = local.buckets

  bucket = aws_s3_bucket.this[each.key].id

  rule {
    id     = "expire-old-versions-and-abandoned-uploads"
    status = "Enabled"

    filter {}

    # Every bucket has a retention period (uploads: the originals; thumbnails: as long as the records). The
    # bucket is versioned: the expired current version becomes noncurrent, removed after
    # noncurrent_version_expiration_days; the delete marker left on top is removed by the next rule.
    dynamic "expiration" {
      for_each = each.value.expiration_days == null ? [] : [each.value.expiration_days]

      content {
        days = expiration.value
      }
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  # S3 accepts expired_object_delete_marker only in an expiration without days: a rule of its own.
  dynamic "rule" {
    for_each = each.value.expiration_days == null ? [] : [each.value.expiration_days]

    content {
      id     = "remove-expired-delete-markers"
      status = "Enabled"

      filter {}

      expiration {
        expired_object_delete_marker = true
      }

      abort_incomplete_multipart_upload {
        days_after_initiation = 1
      }
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

data "aws_iam_policy_document" "tls_only" {
  for_each = local.buckets

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.this[each.key].arn, "${aws_s3_bucket.this[each.key].arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  for_each = local.buckets

  bucket = aws_s3_bucket.this[each.key].id
  policy = data.aws_iam_policy_document.tls_only[each.key].json

  depends_on = [aws_s3_bucket_public_access_block.this]
}

# S3 → dispatch-tasks, for new objects under the upload prefix only.
resource "aws_lambda_permission" "s3_invoke_dispatch" {
  statement_id   = "AllowUploadBucketNotification"
  action         = "lambda:InvokeFunction"
  function_name  = var.dispatch_function_name
  principal      = "s3.amazonaws.com"
  source_arn     = aws_s3_bucket.this["uploads"].arn
  source_account = data.aws_caller_identity.current.account_id
}

resource "aws_s3_bucket_notification" "uploads" {
  bucket = aws_s3_bucket.this["uploads"].id

  lambda_function {
    lambda_function_arn = var.dispatch_function_arn
    events              = ["s3:ObjectCreated:*"]
    filter_prefix       = var.upload_prefix
  }

  depends_on = [aws_lambda_permission.s3_invoke_dispatch]
}

data "aws_caller_identity" "current" {}
