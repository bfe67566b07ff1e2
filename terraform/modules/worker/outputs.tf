output "function_name" {
  description = "Name of the worker's Lambda function."
  value       = module.function.function_name
}

output "function_arn" {
  description = "ARN of the worker's Lambda function."
  value       = module.function.function_arn
}

output "event_source_mapping_uuid" {
  description = "UUID of the SQS event source mapping."
  value       = aws_lambda_event_source_mapping.this.uuid
}
