"""A client writing throughout an upgrade (or past its ID tokens' lifetime): logs one metric
value per step to one run with MLflow's client and its default retries
(MLFLOW_HTTP_REQUEST_MAX_RETRIES=7, backoff factor 2: connection errors and 5xx are
retried for about four minutes), one every argv[2] seconds (0.2 by default), until the
file named by argv[1] exists. Prints `run_id: ID`, then per write `ok STEP START SECONDS`
or `failed STEP START ERROR`."""

import os
import sys
import time

from mlflow import MlflowClient


def main(stop_file, interval=0.2):
    client = MlflowClient()
    experiment = client.create_experiment(f"upgrade-{time.time_ns()}")
    run_id = client.create_run(experiment).info.run_id
    print(f"run_id: {run_id}", flush=True)
    step = 0
    while not os.path.exists(stop_file):
        started = time.time()
        try:
            client.log_metric(run_id, "step", step, step=step)
            print(f"ok {step} {started:.3f} {time.time() - started:.3f}", flush=True)
        except Exception as error:  # every failure is reported, whatever its kind
            print(f"failed {step} {started:.3f} {type(error).__name__}: {error}".replace("\n", " "), flush=True)
        step += 1
        time.sleep(interval)
    client.set_terminated(run_id)
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], *(float(arg) for arg in sys.argv[2:3]))
