"""The answering path: question -> evidence -> reader -> agreement -> abstention -> Response.

Modules here never import ``textual``. ``readers/`` hold the span readers; ``train`` holds the
training command of the learned reader (it imports only torch, transformers, safetensors and numpy,
so it also runs on a bare GPU machine).
"""
