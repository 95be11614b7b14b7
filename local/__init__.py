"""The offline twin of the deployed backend (`python -m local`, behind `make dev`)."""
