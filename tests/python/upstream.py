"""Files of the servers' own source distributions (vLLM, SGLang), fetched from PyPI at test time
with pip and kept in a cache; nothing of theirs is committed here.

`sdist_files("vllm", "0.34.0", [...])` returns the folder holding the requested paths (relative
to the sdist's top folder), or None when PyPI cannot be reached or the files are not in it.
The cache is $EPLB_UPSTREAM_CACHE, else ~/.cache/eplb-upstream.
"""

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Optional, Sequence

# pip download of a large sdist over a slow link; beyond this the tests skip.
_PIP_TIMEOUT_S = 900


def cache_dir() -> Path:
    root = os.environ.get("EPLB_UPSTREAM_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "eplb-upstream"


def _copy_from_tree(tree: Path, members: Sequence[str], target: Path) -> bool:
    for member in members:
        source = tree / member
        if not source.is_file():
            return False
        (target / member).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target / member)
    return True


def _copy_from_archive(archive: Path, members: Sequence[str], target: Path) -> bool:
    with tarfile.open(archive) as tar:
        names = {name.split("/", 1)[1]: name for name in tar.getnames() if "/" in name}
        for member in members:
            if member not in names:
                return False
            data = tar.extractfile(names[member])
            if data is None:
                return False
            (target / member).parent.mkdir(parents=True, exist_ok=True)
            (target / member).write_bytes(data.read())
    return True


def sdist_files(package: str, version: str, members: Sequence[str]) -> Optional[Path]:
    target = cache_dir() / f"{package}-{version}"
    if all((target / member).is_file() for member in members):
        return target
    cache_dir().mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir()) as scratch:
        scratch_path = Path(scratch)
        download = scratch_path / "download"
        # The sdist only, never built: without build isolation pip stops at the metadata step
        # (vLLM's needs CUDA), and --no-clean leaves the unpacked tree in TMPDIR.
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                   "--no-build-isolation", "--no-clean", "-q", "-d", str(download),
                   f"{package}=={version}"]
        env = dict(os.environ, TMPDIR=str(scratch_path), PIP_NO_INPUT="1")
        try:
            subprocess.run(command, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=_PIP_TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return None
        staging = scratch_path / "files"
        archives = sorted(download.glob("*.tar.gz")) if download.is_dir() else []
        trees = [path for pattern in ("pip-download-*/*", "pip-*/*")
                 for path in scratch_path.glob(pattern) if path.is_dir()]
        found = any(_copy_from_archive(archive, members, staging) for archive in archives) or \
            any(_copy_from_tree(tree, members, staging) for tree in trees)
        if not found:
            return None
        for member in members:
            (target / member).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(staging / member, target / member)
    return target
