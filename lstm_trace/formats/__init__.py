"""The file families: every file lstm-trace reads or writes.

registry.py is the one table of weights-file kinds by suffix (reader, writer, the optional
library each needs). reading.py and writing.py turn a path into weights and back, through the
family modules (npz.py: .npz, .npy and .safetensors; torch_pt.py: .pt/.pth; Keras files:
keras_archive.py reads .keras, .weights.h5 and legacy .h5 files, with keras_graph.py (a model
config's layers), keras_config.py (what a layer's config says), keras_layers.py (the layers as
modules), keras_legacy.py (legacy .h5) and keras_h5.py (h5 groups, Keras names, the writer)).
layer_kinds.py tells which recurrent layer a file holds, dtype_policy.py which dtypes are
accepted. At the bottom, importing nothing else of this package: file_limits.py (what is checked
before a file is read) and targets.py (how any path is written).
"""
