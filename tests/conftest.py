import gc
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def pytest_collection_finish(session):
    """Freeze what collection built (torch, TensorFlow, transformers, Lightning: ~500k objects) out of the cycle
    collector: the tests' fixtures call ``gc.collect()`` to end the previous test's trainings, and each call would
    otherwise walk all of it (about a second each). Objects the tests create are collected as usual."""
    gc.collect()
    gc.freeze()
