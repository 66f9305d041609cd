import os
import sys

import pytest
import torch

TRAINING = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(os.path.dirname(TRAINING))
FIXTURES = os.path.join(REPO, "tests", "fixtures")
sys.path.insert(0, TRAINING)

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def fixtures_dir():
    return FIXTURES


def one_document_data(tokens, first_neighbour, m, r):
    """A train_retro.Data over `tokens` as one document that is also its own database; chunk c's neighbour 0 is the
    database chunk first_neighbour[c] with its continuation (-1: none), neighbour 1 absent."""
    import numpy as np
    import train_retro
    db = {"tokens": tokens, "doc_offsets": np.array([0, len(tokens)])}
    nb_idx = np.full((len(tokens) // m, 2), -1)
    nb_idx[:, 0] = first_neighbour
    return train_retro.Data(tokens, nb_idx, db, m, r)
