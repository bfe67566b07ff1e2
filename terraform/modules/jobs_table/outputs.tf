output "table_name" {
  description = "Name of the jobs table."
  value       = aws_dynamodb_table.this.name
}

output "table_arn" {
  description = "ARN of the jobs table."
  value       = aws_dynamodb_table.this.arn
}

output "deadline_index_arn" {
  description = "ARN of the deadline index (for the sweeper's dynamodb:Query grant)."
  value       = "${aws_dynamodb_table.this.arn}/index/${var.deadline_index_name}"
}

output "status_index_arn" {
  description = "ARN of the status index (for dynamodb:Query grants)."
  value       = "${aws_dynamodb_table.this.arn}/index/${var.status_index_name}"
}
