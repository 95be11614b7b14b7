"""boto3 behind small ports: Chime, the DynamoDB store, the event bus. Clients are injectable."""
