"""Which sources the global-statistics shortcut separates: per-class recall of the audit's classifier
(standardised logistic regression on the eight global colour and sharpness statistics, fitted on the
train split, scored on test), and the same cue for real against each generator alone.

    python benchmarks/audit_per_class.py DATASET

`gfp audit DATASET` gives the overall number; this breaks it down by source.
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from gfcore import load_dataset
from gfcore.studies.audit.features import global_stats


def fitted(features: np.ndarray, labels: np.ndarray):
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(features, labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset")
    parser.add_argument("--real", default="real", help="the real class (default: real)")
    args = parser.parse_args()
    data = load_dataset(args.dataset)
    train, test = data.split("train"), data.split("test")
    f_train, f_test = global_stats(np.asarray(train.images)), global_stats(np.asarray(test.images))
    y_train, y_test = np.asarray(train.labels), np.asarray(test.labels)
    predicted = fitted(f_train, y_train).predict(f_test)
    print(f"all sources: {np.mean(predicted == y_test):.2%} (chance {1 / len(data.classes):.0%})")
    for i, name in enumerate(data.classes):
        print(f"  recall of {name}: {np.mean(predicted[y_test == i] == i):.1%}")
    real = data.classes.index(args.real)
    for i, name in enumerate(data.classes):
        if i == real:
            continue
        fit_rows, test_rows = np.isin(y_train, [real, i]), np.isin(y_test, [real, i])
        pair = fitted(f_train[fit_rows], y_train[fit_rows]).predict(f_test[test_rows])
        print(f"{args.real} vs {name} alone: {np.mean(pair == y_test[test_rows]):.1%} (chance 50%)")


if __name__ == "__main__":
    main()
