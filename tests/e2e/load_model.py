"""Load a logged model back through the tracking server; print "prediction: [y]" for x = 4.

Usage: python load_model.py MODEL_URI   (MLFLOW_TRACKING_URI must point at the server)

Run by e2e.py in a subprocess so that its environment (STORAGE_EMULATOR_HOST or not)
is exactly what a user's client would have.
"""

import json
import sys

import mlflow.pyfunc
import pandas as pd

model = mlflow.pyfunc.load_model(sys.argv[1])
prediction = model.predict(pd.DataFrame({"x": [4.0]}))
print("prediction:", json.dumps([float(v) for v in prediction]))
