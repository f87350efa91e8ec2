"""The pure domain core. Nothing here imports boto3 or performs I/O (enforced by ruff TID251)."""
