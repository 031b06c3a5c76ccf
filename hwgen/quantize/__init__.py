"""`hwgen quantize`: calibrated post-training quantization of a float ONNX model into QONNX that `hwgen build`
compiles (issue 21).

Modules: floatnet (the float chain, BatchNorm folded, numpy forward), calib (weight / activation scale searches,
adaptive rounding), ptq (layer-by-layer quantization with bias correction), export (QONNX as Brevitas writes it),
evaluate (a candidate compiled by the build and run on the cpu backend), mixed (per-layer bits under an accuracy
budget), prune (--prune R with a least-squares re-fit), run (the command as a function, the report), command (CLI).
The build-time removal of constant channels is the transform pass hwgen.transforms.prune_channels.
"""
