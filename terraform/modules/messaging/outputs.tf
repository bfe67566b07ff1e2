output "topic_arn" {
  description = "ARN of the jobs SNS topic."
  value       = aws_sns_topic.this.arn
}

output "queues" {
  description = "Per step: queue name, URL and ARN, and its DLQ's name, URL and ARN."
  value = {
    for step, queue in aws_sqs_queue.this : step => {
      name     = queue.name
      url      = queue.url
      arn      = queue.arn
      dlq_name = aws_sqs_queue.dlq[step].name
      dlq_url  = aws_sqs_queue.dlq[step].url
      dlq_arn  = aws_sqs_queue.dlq[step].arn
    }
  }
}
