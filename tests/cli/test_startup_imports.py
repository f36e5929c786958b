"""``train.py`` starts without loading what a forecasting run never uses: matplotlib, wandb, onnx, torchaudio and
the rest load in the function that needs them, so seqconv's start-up costs little beyond ``import lightning``."""

import json
import subprocess
import sys
import textwrap

# what a default run must not import before it trains; pandas is not here: the stocks datamodule needs it
HEAVY = {
    "matplotlib",
    "onnx",
    "onnxruntime",
    "onnxscript",
    "optuna",
    "scipy",
    "sklearn",
    "soundfile",
    "tensorboard",
    "tensorboardX",
    "tokenizers",
    "torchaudio",
    "wandb",
}

# In a fresh interpreter: import lightning first (every run pays for it; torchmetrics loads matplotlib.pyplot and
# scipy there when they are installed), then train.py's module and every `_target_` of the default config, as
# Hydra would resolve them. `import` statements run by seqconv modules are recorded, so that one of a module that
# lightning already loaded shows too; the heavy packages loaded on the way are listed.
PROBE = textwrap.dedent(
    """
    import builtins, json, sys

    import lightning

    heavy = set(sys.argv[1].split(","))
    already = set(sys.modules)
    statements = []
    builtin_import = builtins.__import__

    def recording_import(name, globals=None, locals=None, fromlist=(), level=0):
        importer = (globals or {}).get("__name__") or ""
        if level == 0 and importer.startswith("seqconv"):
            statements.append([importer, name])
        return builtin_import(name, globals, locals, fromlist, level)

    builtins.__import__ = recording_import
    import seqconv.cli.train
    from hydra import compose, initialize_config_module
    from hydra.utils import get_object
    from omegaconf import OmegaConf

    with initialize_config_module("seqconv.conf", version_base="1.3"):
        cfg = OmegaConf.to_container(compose("train"), resolve=False)
    targets, todo = [], [cfg]
    while todo:
        node = todo.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else []
        todo += children
        if isinstance(node, dict) and isinstance(node.get("_target_"), str):
            targets.append(node["_target_"])
            get_object(node["_target_"])
    builtins.__import__ = builtin_import
    loaded = sorted({m.partition(".")[0] for m in set(sys.modules) - already} & heavy)
    print(json.dumps({"statements": statements, "loaded": loaded, "targets": targets}))
    """
)


def test_train_imports_nothing_heavy_beyond_lightning():
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, ",".join(sorted(HEAVY))], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    assert ["seqconv.cli.train", "torch"] in found["statements"]  # the recording works
    assert "seqconv.models.TimeSeriesCNN" in found["targets"]  # the default model was resolved
    heavy_statements = sorted(
        f"{importer}: import {name}" for importer, name in found["statements"] if name.partition(".")[0] in HEAVY
    )
    assert heavy_statements == [], f"import these inside the function that uses them: {heavy_statements}"
    assert found["loaded"] == [], f"train.py's imports or the default config's targets load {found['loaded']}"
