resource "aws_dynamodb_table" "this" {
  #checkov:skip=CKV_AWS_119:Encrypted at rest with the AWS-owned/managed key; job records hold object keys and labels, no secrets, so a CMK ($1/month + requests) adds cost without a threat it answers.
  name                        = var.name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "jobId"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "jobId"
    type = "S"
  }

  attribute {
    name = "status"
    type = "S"
  }

  attribute {
    name = "createdAt"
    type = "S"
  }

  attribute {
    name = "deadlineAt"
    type = "S"
  }

  attribute {
    name = "eventPendingAt"
    type = "S"
  }

  # Listing jobs by status, newest first (the CLI; the sweeper for records without deadlineAt).
  global_secondary_index {
    name            = var.status_index_name
    hash_key        = "status"
    range_key       = "createdAt"
    projection_type = "ALL"
  }

  # The sweeper's query: PENDING jobs past their deadline. Sparse: only PENDING jobs carry deadlineAt,
  # and the steps are all the sweeper reads to name what a job still waits for.
  global_secondary_index {
    name               = var.deadline_index_name
    hash_key           = "status"
    range_key          = "deadlineAt"
    projection_type    = "INCLUDE"
    non_key_attributes = ["steps"]
  }

  # The sweeper's other query: finished jobs whose job-finished event was never confirmed sent. Sparse:
  # only such a record carries eventPendingAt; eventId tells a job rejected at intake (due at once).
  global_secondary_index {
    name               = var.event_index_name
    hash_key           = "status"
    range_key          = "eventPendingAt"
    projection_type    = "INCLUDE"
    non_key_attributes = ["eventId"]
  }

  point_in_time_recovery {
    enabled = true
  }

  # Records expire (epoch seconds in this attribute, written by dispatch-tasks): they name the uploader's
  # object keys, and outlive nothing they describe (uploads expire too).
  ttl {
    attribute_name = var.ttl_attribute
    enabled        = true
  }

  server_side_encryption {
    enabled = true
  }
}
