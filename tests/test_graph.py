"""Every model computes one function eagerly and in a traced graph (as ``fit`` trains it).

TensorFlow's graph rewrites (oneDNN fusions) once dropped RFDN's LeakyReLU slope in graph mode
only: ``fit`` trained one function and inference ran another.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from sr_keras import inference, models


@pytest.mark.parametrize("name", sorted(models.MODELS))
def test_eager_and_graph_outputs_agree(name):
    model = models.build(name, 4)
    # Random weights give small activations; scale them up so every activation's negative side
    # is exercised (a wrong slope then shows).
    model.set_weights([w * 3.0 for w in model.get_weights()])
    images = tf.random.stateless_uniform([2, 20, 20, 3], seed=[1, 2])
    eager = model(images, training=False)
    graph = tf.function(lambda batch: model(batch, training=False))(images)
    scale = float(np.abs(eager).max()) + 1e-6
    np.testing.assert_allclose(graph / scale, eager / scale, atol=1e-4)


@pytest.mark.parametrize(
    "path", sorted(inference.WEIGHTS_DIR.glob("*.keras")), ids=lambda path: path.stem
)
def test_shipped_files_loaded_with_keras_compute_the_registry_models_function(path):
    """A shipped file loaded as a user would (``keras.models.load_model``) runs, in a graph, the
    function of the registry's model: the file holds no layer TensorFlow rewrites wrongly."""
    name, scale = path.stem.rsplit("_x", 1)
    loaded = keras.models.load_model(path, compile=False)
    expected = inference.load_model(name, int(scale), path, "float32")
    images = tf.random.stateless_uniform([1, 16, 16, 3], seed=[3, 4])
    graph = tf.function(lambda batch: loaded(batch, training=False))(images)
    np.testing.assert_allclose(graph, expected(images, training=False), atol=1e-4)
