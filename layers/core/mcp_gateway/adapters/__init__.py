"""Thin boto3-backed implementations of the ports the pure core needs."""
