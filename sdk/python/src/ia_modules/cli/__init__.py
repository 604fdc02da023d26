"""The `ia-modules` command line: validate, format, push and run pipelines.

Command modules import gRPC, protobuf, jsonschema and Rich inside the commands
that need them, so that `ia-modules --help` starts fast.
"""
