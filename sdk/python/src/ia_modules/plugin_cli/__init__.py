"""The `ia-plugin` command line: list, inspect, install and remove plugins on the
plugin host; create, check, test and package plugin folders.

Command modules import gRPC, protobuf and Rich inside the commands that need
them, so that `ia-plugin --help` starts fast.
"""
