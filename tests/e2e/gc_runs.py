"""Prepare what `mlflow gc` must tell apart: two runs, each with a param, a metric and an
artifact, logged through the tracking server at MLFLOW_TRACKING_URI; the first is then
deleted (the `deleted` lifecycle stage), the second is kept. The last line of standard
output is a JSON object: {"deleted": {"run_id", "artifact_uri"}, "kept": {...}}.
"""

import json

import mlflow
from mlflow import MlflowClient


def log_run(name):
    with mlflow.start_run(run_name=name) as run:
        mlflow.log_param("which", name)
        mlflow.log_metric("score", 1.0)
        mlflow.log_text(f"{name} run\n", "notes/hello.txt")
    return {"run_id": run.info.run_id, "artifact_uri": run.info.artifact_uri}


def main():
    mlflow.set_experiment("mlflow-stack-gc")
    deleted = log_run("deleted")
    kept = log_run("kept")
    MlflowClient().delete_run(deleted["run_id"])
    print(json.dumps({"deleted": deleted, "kept": kept}))


if __name__ == "__main__":
    main()
