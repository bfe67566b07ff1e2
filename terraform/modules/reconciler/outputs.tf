output "state_machine_arn" {
  description = "ARN of the reconcile state machine."
  value       = aws_sfn_state_machine.this.arn
}

output "state_machine_name" {
  description = "Name of the reconcile state machine."
  value       = aws_sfn_state_machine.this.name
}

output "log_group_name" {
  description = "Log group holding the execution history."
  value       = aws_cloudwatch_log_group.this.name
}
