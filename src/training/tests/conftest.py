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
