"""Training a plate recogniser of our own (issue 18).

Everything here except :mod:`models.training.manifest`, the renderer and its
fonts needs the optional ``train`` extra (torch); the lane never imports this
package: it runs the exported ONNX model through :mod:`models.plate_net`.
"""
