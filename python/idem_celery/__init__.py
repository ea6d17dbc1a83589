"""The talk's framework, for real: Celery workers whose cleanup callbacks release
executors with the same Lua scripts the Node server uses (lua/)."""
