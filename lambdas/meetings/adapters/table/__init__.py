"""The DynamoDB single table behind the ports (service/ports.py): the item codec, the error
mapping every repository shares, the base operations, one repository per aggregate, the read
queries and the cleanup's queries."""
