"""The ``openvino`` back end: GroundingDINO converted to OpenVINO IR, run by the OpenVINO CPU runtime.

The conversion (gdino_serve/openvino_export) runs once per checkpoint when the model store is
built; the worker only reads the IR files and never builds the PyTorch model.
"""
