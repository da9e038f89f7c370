"""A notebook-first toolkit and teaching workbench for MLOps on tabular data

Modules:

- `mlops_workbench.alerts`: The `[monitor]` rules over a monitor's signals, each alert recorded once per episode (an MLflow run and a JSON record with its evidence), an optional webhook that never loses an alert, and the alerts Alertmanager sends, recorded the same way so the scheduler's `on_alert` retrains.
- `mlops_workbench.approval`: Human sign-off before a version is served: a passing version waits as `candidate`, named people approve or reject it on the record, and the alias moves once enough of them have approved.
- `mlops_workbench.batch`: Score a CSV or Parquet file of any size with a registered model, in chunks, with a progress bar: predictions written atomically and every row recorded in the inference log.
- `mlops_workbench.cli`: `mlops-workbench` (alias `mwb`): list the datasets, run any notebook with checked parameters, run the demo job.
- `mlops_workbench.cli_ops`: The operations commands of `mlops-workbench`: signing off model versions, Prometheus' rules and the alert receiver, and `--scheduler`, the dask cluster for one call.
- `mlops_workbench.cluster`: One rule for where heavy work runs: a dask client, or a scheduler named in `settings.ini`, means the cluster; otherwise this machine. Drift, profiles, monitoring, `compare` and `tune` all ask here.
- `mlops_workbench.config`: The workbench's own settings: where MLflow keeps runs, where data, runs and reports go, the gate's thresholds and the scheduled jobs.
- `mlops_workbench.course`: The lessons: list them, find one, and hand a clean copy to students. Their exercises are checked by `mlops_workbench.exercises`.
- `mlops_workbench.drift`: A fast drift engine that agrees with Evidently 0.7: `detect` tests every shared column of two tables and returns a `DriftReport` that renders itself, converts to a frame, a dict or metrics.
- `mlops_workbench.drift_parquet`: Drift on Parquet datasets larger than memory, or on a dask cluster: per-partition sketches that merge, the same tests and verdicts as the in-memory engine (exact where counts suffice, bounded where not).
- `mlops_workbench.drift_sketch`: Per-partition sketches for drift on data larger than one machine: each Parquet file or DataFrame partition is sketched on its own, and the sketches merge, on this machine or on a dask cluster.
- `mlops_workbench.drift_stats`: The statistical tests behind `drift.detect`: Evidently 0.7's default choice of test per column, re-implemented on sorted arrays and counts so they run fast and in chunks.
- `mlops_workbench.drift_views`: Looking at drift: the full Evidently report on demand (and its verdicts, to check `detect` against), and a widget that slides a window over time and redraws a column's distributions.
- `mlops_workbench.estimation`: Performance estimated before the labels arrive: confidence-based performance estimation (CBPE, the method NannyML published) for binary and multiclass classifiers, matching NannyML 0.13's numbers.
- `mlops_workbench.exercises`: Check the answers to the course's exercises with feedback that teaches: why an answer is right, and what to look at when it is not.
- `mlops_workbench.imbalance`: Describe an imbalanced target, resample it with imbalanced-learn, and compare samplers the right way: inside cross-validation, on the training folds only.
- `mlops_workbench.inference_log`: Every prediction the workbench makes (served, shadowed, batch-scored or evaluated), durable before it is answered, readable as one table, with late labels joined back.
- `mlops_workbench.leaderboard`: One cross-validated leaderboard for every comparison: candidate models in `models.compare`, candidate samplers in `imbalance.compare_samplers`.
- `mlops_workbench.lineage`: Which data, code, packages and settings produced a model version: recorded on every tracked run, walked back from the registry, with what is missing said plainly.
- `mlops_workbench.model_card`: A model card for one registered version, in Markdown and in one self-contained HTML file, written only from what is recorded: intended use, data, hold-out metrics, fairness, explanation, gate, approvals, alias history and lineage. What is not recorded says so.
- `mlops_workbench.model_logging`: Log fitted pipelines to MLflow as models (signature, input example, pinned requirements, skops format), and a comparison as one parent run with a nested run per candidate.
- `mlops_workbench.models`: Compare candidate models on identical cross-validation folds, in parallel, with every candidate tracked as an MLflow run.
- `mlops_workbench.monitor`: Watch a served model over time: per window of its inference log, input drift, prediction drift, data quality, realised performance where labels arrived, estimated performance where they have not, fairness per group, and the shadow challenger against the champion, in one `MonitorReport`.
- `mlops_workbench.monitor_cluster`: `monitor.check` on a dask cluster: one task per window, each worker reading its own window's rows and computing that window's signals, the client only assembling the small results.
- `mlops_workbench.monitor_report`: The result of `monitor.check`: one row of signals per time window, the per-window details, a small rendering with a time series per signal, and a self-contained HTML file.
- `mlops_workbench.performance`: Concept drift: a model's score per time window against its score on a reference window, with the windows that fall too far behind, scored with the workbench's one metric vocabulary.
- `mlops_workbench.prometheus`: Prometheus and Alertmanager, closing the loop: alert rules generated from `[monitor]` (each threshold written once), a scrape configuration for the serving process, an Alertmanager configuration whose webhook reaches the workbench's alert receiver, and that receiver.
- `mlops_workbench.racing`: Spend a comparison's compute well: a time budget for the whole comparison, a time limit per candidate, and racing, which stops scoring a candidate once it is clearly behind the leader.
- `mlops_workbench.registry`: A sign-off gate of explicit rules, promotion to the MLflow Model Registry under an alias, and champion/challenger on the same hold-out data.
- `mlops_workbench.releases`: Every alias move the workbench makes, recorded in the MLflow registry with its reason, who and when; the history as a table, and rollback to the version that served before.
- `mlops_workbench.runner`: Run any notebook with typed parameters in a real Jupyter kernel, into its own run folder, recorded as an MLflow run; refuse bad parameters before anything executes.
- `mlops_workbench.sampling_error`: How far a window's metric moves by chance: NannyML's sampling-error components of each CBPE metric, learnt from the reference, and the fast scores `estimation` compares with.
- `mlops_workbench.schedule`: Run the jobs of settings.ini when their cron time comes: never two copies of a job at once, a killed run recorded as failed and run again, and an alert that starts retraining, once per episode.
- `mlops_workbench.scoring`: How a registered model scores rows, the same for the server and for batch files: which model a reference names, one pass of the pipeline's transforms for predictions and class probabilities, and the categories the model never saw in training.
- `mlops_workbench.search_spaces`: The search spaces `tuning.tune` draws from: a documented default per catalogue model, ranges checked against the estimator's own parameters, and the estimator's own settings as the first trial.
- `mlops_workbench.serve`: Serve a registered model over HTTP: signature-checked predictions, an inference log written before each answer, Prometheus metrics, a shadow challenger and hot swap when the alias moves.
- `mlops_workbench.serve_metrics`: What the serving process tells Prometheus: requests, latency, predictions and the log's backlog; a rolling mean and standard deviation of each numeric input; and the monitor's latest signals, so the alert rules generated from `[monitor]` can watch them all.
- `mlops_workbench.serve_process`: Start the real prediction server from a notebook or a test, and be sure it stops: a context manager around `mlops-workbench serve` on a free 127.0.0.1 port that dies with the kernel, even one killed with SIGKILL.
- `mlops_workbench.serve_schema`: Parse and check prediction requests at the edge: JSON or CSV bodies, the model's logged MLflow signature, and categories the model never saw in training.
- `mlops_workbench.significance`: Is the leader of a leaderboard really better than the runner-up, or lucky on these folds? The corrected resampled t-test of Nadeau and Bengio (2003) on paired fold scores.
- `mlops_workbench.synthetic`: Make a synthetic copy of a table with SDV 2, then judge it: how faithful (SDMetrics quality and diagnostic), how private (exact copies, distance to closest record), how useful (train on synthetic, test on real).
- `mlops_workbench.tracking`: Connect to the MLflow store named in the settings, fail fast when it is unreachable, and nest a notebook's runs under the run of its scheduled execution.
- `mlops_workbench.tuning`: Tune one candidate's hyperparameters with Optuna on the same seeded folds as `models.compare`, every trial an MLflow run, the study resumable from its own SQLite file."""

__version__ = "0.1.0"
