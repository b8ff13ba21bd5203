"""What do the backbones' jet embeddings encode? Linear probes on the demo's pretraining jets.

    python probe_embeddings.py DATA OUT.md NAME=RUN [NAME=RUN ...]

For each backbone (a ``jetscale pretrain`` run), the jet embedding its
classification head reads (:func:`jetscale.export.embedding.logits_and_embedding`)
of the first 6,000 jets of DATA, standardised with the first half's statistics.
On the second half it reports the accuracy of a linear (multinomial logistic)
classifier of the jet's class trained on the first half, and the R^2 of linear
(ridge) regressions of the jet's kinematics: the azimuth and pseudorapidity that
a contrastive backbone could key on, and the mass, multiplicity and
N-subjettiness that tell the classes apart. Written as a Markdown table.

Both probes are a few lines of numpy and torch rather than a dependency
(scikit-learn): closed-form ridge, and full-batch L-BFGS for the logistic loss.
"""

from __future__ import annotations

import sys
from pathlib import Path

import awkward as ak
import numpy as np
import torch

from jetscale.export.embedding import logits_and_embedding
from jetscale.features.builder import prepare_jets
from jetscale.transfer.representations import load_model, read_jets_for

JETS = 6000
#: Ridge strengths per jet tried (the best on the last fifth of the training half is kept):
#: a contrastive embedding's directions are strongly correlated, and what it encodes may sit
#: in directions of small variance that a fixed, larger penalty would shrink away.
RIDGE = np.logspace(-7, -1, 7)


def embeddings(run: str, jets: ak.Array) -> np.ndarray:
    loaded = load_model(run, backbones=True)
    prepared = prepare_jets(jets, loaded.config.feature_set)
    out = []
    for start in range(0, len(jets), 500):
        stop = min(start + 500, len(jets))
        x, mask = prepared.fill(start, stop, loaded.config.max_particles)
        with torch.inference_mode():
            _, embedding = logits_and_embedding(
                loaded.module, torch.from_numpy(x), torch.from_numpy(mask).bool()
            )
        out.append(embedding.double().numpy())
    return np.concatenate(out)


def ridge_fit(x: np.ndarray, y: np.ndarray, strength: float) -> np.ndarray:
    a = np.column_stack([x, np.ones(len(x))])
    penalty = strength * len(x) * np.eye(a.shape[1])
    penalty[-1, -1] = 0.0  # the intercept is not shrunk
    coef: np.ndarray = np.linalg.solve(a.T @ a + penalty, a.T @ y)
    return coef


def r2(x: np.ndarray, y: np.ndarray, coef: np.ndarray) -> float:
    predicted = np.column_stack([x, np.ones(len(x))]) @ coef
    return float(1.0 - np.sum((y - predicted) ** 2) / np.sum((y - y.mean()) ** 2))


def ridge_r2(train: np.ndarray, test: np.ndarray, y_train: np.ndarray, y_test: np.ndarray) -> float:
    cut = len(train) * 4 // 5
    best = max(
        RIDGE,
        key=lambda s: r2(train[cut:], y_train[cut:], ridge_fit(train[:cut], y_train[:cut], s)),
    )
    return r2(test, y_test, ridge_fit(train, y_train, best))


def probe_accuracy(
    train: np.ndarray, test: np.ndarray, y_train: np.ndarray, y_test: np.ndarray
) -> float:
    x, labels = torch.from_numpy(train), torch.from_numpy(y_train)
    classes = int(max(y_train.max(), y_test.max())) + 1
    linear = torch.nn.Linear(x.shape[1], classes, dtype=torch.float64)
    optimizer = torch.optim.LBFGS(linear.parameters(), max_iter=500, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(linear(x), labels)
        loss = loss + 1e-4 * linear.weight.square().sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        predicted = linear(torch.from_numpy(test)).argmax(dim=1).numpy()
    return float(np.mean(predicted == y_test))


def main(data: str, out: str, runs: list[str]) -> None:
    torch.manual_seed(0)
    jets = read_jets_for(data, ["full21"], JETS)
    column = lambda name: ak.to_numpy(jets[name]).astype(np.float64)  # noqa: E731
    targets = {
        "cos φ": np.cos(column("phi")),
        "sin φ": np.sin(column("phi")),
        "η": column("eta"),
        "abs(η)": np.abs(column("eta")),
        "log pT": np.log(column("pt")),
        "soft-drop mass": column("sdmass"),
        "constituents": column("nparticles"),
        "τ21": column("tau2") / np.maximum(column("tau1"), 1e-9),
        "τ32": column("tau3") / np.maximum(column("tau2"), 1e-9),
    }
    label = ak.to_numpy(jets["label"]).astype(np.int64)
    half = len(label) // 2
    header = ["backbone", "class accuracy", *[f"R² {k}" for k in targets]]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for named in runs:
        name, run = named.split("=", 1)
        embedding = embeddings(run, jets)
        mean, std = embedding[:half].mean(axis=0), embedding[:half].std(axis=0) + 1e-12
        embedding = (embedding - mean) / std
        train, test = embedding[:half], embedding[half:]
        row = [name, f"{probe_accuracy(train, test, label[:half], label[half:]):.3f}"]
        row += [f"{ridge_r2(train, test, y[:half], y[half:]):.2f}" for y in targets.values()]
        lines.append("| " + " | ".join(row) + " |")
        print(lines[-1], flush=True)
    classes = len(np.unique(label))
    note = (
        f"\n{len(label)} jets of {data} ({classes} classes, chance accuracy "
        f"{1 / classes:.2f}); probes fitted on the first half, scored on the second.\n"
    )
    Path(out).write_text("\n".join(lines) + "\n" + note)


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
