"""Logger, Tracer and Metrics for every function: configured here, once.

Join tokens must never reach a log line or a trace: responses are not captured by the tracer
(`capture_response=False` at each handler, and POWERTOOLS_TRACER_CAPTURE_RESPONSE=false in the
stack), and botocore's loggers are kept above DEBUG, where they would print response bodies.
"""

from __future__ import annotations

import logging

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE_NAME = "meetings"
METRICS_NAMESPACE = "ChimeMeetings"

logger = Logger(service=SERVICE_NAME)
tracer = Tracer(service=SERVICE_NAME)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)

# botocore and urllib3 log full request and response bodies (join tokens included) at DEBUG.
for _noisy in ("botocore", "boto3", "urllib3"):
    logging.getLogger(_noisy).setLevel(max(logging.INFO, logging.getLogger(_noisy).level))
