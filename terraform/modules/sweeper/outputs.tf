output "function_name" {
  description = "Name of the sweeper function."
  value       = module.function.function_name
}

output "function_arn" {
  description = "ARN of the sweeper function."
  value       = module.function.function_arn
}

output "schedule_arn" {
  description = "ARN of the EventBridge Scheduler schedule."
  value       = aws_scheduler_schedule.this.arn
}
