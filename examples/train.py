"""Log a tiny training run to an MLflow tracking server.

The tracking server comes from MLFLOW_TRACKING_URI, for example
http://localhost:8080 after `kubectl -n mlflow port-forward svc/mlflow-server 8080`.

It logs two params, a metric history and a model. The "model" is a two-parameter
linear function wrapped in an mlflow.pyfunc.PythonModel, so nothing beyond mlflow
itself is needed. The last line of standard output is `run_id: <id>`.

With serve_artifacts = false the client writes the model to the bucket itself, so it
needs Google credentials for it (gcloud auth application-default login).
"""

import os
import sys

import mlflow
import mlflow.pyfunc


class LinearModel(mlflow.pyfunc.PythonModel):
    """y = slope * x + intercept, applied to the first column of the input."""

    def __init__(self, slope, intercept):
        self.slope = slope
        self.intercept = intercept

    def predict(self, context, model_input, params=None):
        column = model_input.iloc[:, 0]
        return [self.slope * float(x) + self.intercept for x in column]


def fit(xs, ys):
    """Ordinary least squares for one feature."""
    n = len(xs)
    mean_x = sum(xs) / n
    mean_y = sum(ys) / n
    sxx = sum((x - mean_x) ** 2 for x in xs)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys))
    slope = sxy / sxx
    return slope, mean_y - slope * mean_x


def main():
    tracking_uri = os.environ.get("MLFLOW_TRACKING_URI")
    if not tracking_uri:
        sys.exit("train.py: set MLFLOW_TRACKING_URI to the tracking server, e.g. http://localhost:8080")
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(os.environ.get("MLFLOW_EXPERIMENT_NAME", "mlflow-stack-example"))

    xs = [float(x) for x in range(10)]
    ys = [3.0 * x + 2.0 for x in xs]

    with mlflow.start_run() as run:
        mlflow.log_param("feature_count", 1)
        mlflow.log_param("method", "least-squares")
        slope, intercept = fit(xs, ys)
        for step, x in enumerate(xs):
            error = (slope * x + intercept) - ys[step]
            mlflow.log_metric("squared_error", error * error, step=step)
        mlflow.log_metric("slope", slope)
        mlflow.log_metric("intercept", intercept)
        mlflow.pyfunc.log_model(
            name="model",
            python_model=LinearModel(slope, intercept),
        )
    # Last line of stdout, after MLflow's own "View run" lines.
    print(f"run_id: {run.info.run_id}", flush=True)


if __name__ == "__main__":
    main()
