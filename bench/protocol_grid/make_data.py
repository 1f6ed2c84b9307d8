"""Per protocol: the store's TrainingData (through the bench's import) and the test truth, pickled."""
import os, pickle, sys, tempfile, time
sys.path.insert(0, os.getcwd())
import numpy as np
from bench import recommend_quality as rq

proto = sys.argv[1]
ratings, films = rq.read_movielens(rq.wheel_path())
positives = ratings[ratings[:, 2] >= 4]
train, test = rq.PROTOCOLS[proto](positives)
shift = int(time.time()) - 3600 - int(train[:, 3].max())
workdir = tempfile.mkdtemp(prefix="q-")
rq.setup_django(os.path.join(workdir, "db.sqlite3"))
rq.load_store(films, train, shift, workdir)
from personalize.recommenders import training
from personalize.models import Shopper
data = training.load_training_data()
index = {str(k): i for i, k in enumerate(data.product_keys)}
shoppers = {s.external_key: s.pk for s in Shopper.objects.all()}
user_index = {int(pk): i for i, pk in enumerate(data.shopper_ids)}
truth = {}
for u, item in test[:, :2].tolist():
    key = f"u{u}"
    if key in shoppers and str(item) in index:
        truth.setdefault(user_index[shoppers[key]], set()).add(index[str(item)])
with open(f"/tmp/q/{proto}.pkl", "wb") as fh:
    pickle.dump({"data": data, "truth": truth, "train": train, "test": test}, fh)
print(proto, data.n_events, len(truth))
