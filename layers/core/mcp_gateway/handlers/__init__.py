"""Handler logic for each Lambda function. ``functions/<name>/app.py`` is a decorated one-liner calling these."""
