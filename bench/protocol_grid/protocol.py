"""What grid.py and grid10.py share: a protocol's data and test set (make_data.py's pickle), the
LightFM fit and the item-item variants they score (import after ``rq.setup_django``)."""
import dataclasses
import pickle

import numpy as np

FIT = {"NO_COMPONENTS": 128, "EPOCHS": 40, "ITEM_ALPHA": 1e-5, "USER_ALPHA": 1e-5, "NUM_THREADS": 1}
VARIANTS = [{"KNN_METRIC": "ease", "EASE_LAMBDA": 300.0, "KNN_TOP_N": 300}, {"KNN_METRIC": "ease", "EASE_LAMBDA": 1000.0, "KNN_TOP_N": 300}]


def load(proto):
    """(training data, test set as training data) of ``/tmp/q/<proto>.pkl``."""
    blob = pickle.load(open(f"/tmp/q/{proto}.pkl", "rb"))
    data, truth = blob["data"], blob["truth"]
    users = np.array([u for u, s in truth.items() for _ in s], dtype=np.int32)
    items = np.array([i for u, s in truth.items() for i in s], dtype=np.int32)
    n = len(users)
    test = dataclasses.replace(data, users=users, items=items, kinds=np.zeros(n, np.int8), times=np.zeros(n), sessions=np.zeros(n, np.int64))
    return data, test
