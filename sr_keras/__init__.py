"""sr_keras: single-image super-resolution in Keras 3, from interpolation to CNNs."""

__version__ = "0.1.0"
