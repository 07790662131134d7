"""What an operator needs to run the service: health checks, metrics and logs."""
