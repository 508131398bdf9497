"""How save_plan() and the readers treat paths, in the compiled formats and in "torch" alike:
`-` for stdout and stdin, symlinks, FIFOs, the user's own `.tmp` file, concurrent writers and
/dev/full (eplb/io/files.h)."""

import os
import stat
import subprocess
import sys
import threading

import numpy as np
import pytest

import eplb
from conftest import DEEPSEEK_V3, deepseek_v3_loads

# One compiled writer and the Python one, with a file name ending each.
FORMATS = {"eplb": ".json", "torch": ".pt"}


def plan(seed=0):
    return eplb.rebalance_experts(deepseek_v3_loads(seed, num_layers=4), **DEEPSEEK_V3)


def save(format, path, seed=0):
    if format == "torch":
        pytest.importorskip("torch")
    eplb.save_plan(plan(seed), path, format, num_groups=8, num_nodes=4, num_gpus=32)


def reference_bytes(tmp_path, format, seed=0):
    """What save_plan writes to a new regular file."""
    path = tmp_path / "reference" / f"plan{FORMATS[format]}"
    path.parent.mkdir(exist_ok=True)
    save(format, path, seed)
    return path.read_bytes()


def assert_saved(path, seed=0):
    loaded = eplb.load_plan(path, num_gpus=32)
    for actual, expected in zip(loaded, plan(seed)):
        np.testing.assert_array_equal(np.asarray(actual), np.asarray(expected))


@pytest.mark.parametrize("format", FORMATS)
def test_regular_file_keeps_the_users_tmp_file_and_its_permissions(tmp_path, format):
    work = tmp_path / "work"
    work.mkdir()
    path = work / f"plan{FORMATS[format]}"
    users_tmp = work / f"plan{FORMATS[format]}.tmp"
    users_tmp.write_text("mine")
    path.write_text("old")
    path.chmod(0o640)
    save(format, path)
    assert_saved(path)
    assert users_tmp.read_text() == "mine"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(os.listdir(work)) == [path.name, users_tmp.name]


@pytest.mark.parametrize("format", FORMATS)
def test_symlink_stays_and_its_target_gets_the_plan(tmp_path, format):
    target = tmp_path / "elsewhere" / f"real{FORMATS[format]}"
    target.parent.mkdir()
    target.write_text("old")
    link = tmp_path / f"link{FORMATS[format]}"
    link.symlink_to(target)
    save(format, link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_bytes() == reference_bytes(tmp_path, format)
    assert os.listdir(target.parent) == [target.name]


@pytest.mark.parametrize("format", FORMATS)
def test_fifo_reader_gets_the_bytes(tmp_path, format):
    fifo = tmp_path / "plan.fifo"
    os.mkfifo(fifo)
    expected = reference_bytes(tmp_path, format)
    # The FIFO is held open for writing until the write is done, so the reader sees its end of
    # file even if the writer never opened the FIFO; its read end is opened before the write,
    # so no byte can go to a pipe without a reader.
    keep_open = os.open(fifo, os.O_RDWR)
    read_end = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    os.set_blocking(read_end, True)
    received = []

    def read_all():
        with os.fdopen(read_end, "rb") as file:
            received.append(file.read())

    reader = threading.Thread(target=read_all)
    reader.start()
    try:
        save(format, fifo)
    finally:
        os.close(keep_open)
        reader.join()
    assert received == [expected]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


@pytest.mark.parametrize("format", FORMATS)
def test_concurrent_writers_all_succeed(tmp_path, format):
    path = tmp_path / f"plan{FORMATS[format]}"
    save(format, path)  # imports torch before the threads start
    errors = []

    def write(seed):
        for _ in range(5):
            try:
                save(format, path, seed)
            except eplb.Error as error:
                errors.append(error)

    threads = [threading.Thread(target=write, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert path.read_bytes() in [reference_bytes(tmp_path, format, seed) for seed in range(4)]
    assert sorted(os.listdir(tmp_path)) == [path.name, "reference"]


@pytest.mark.parametrize("format", FORMATS)
def test_dash_is_stdout(tmp_path, format, capfdbinary, monkeypatch):
    expected = reference_bytes(tmp_path, format)
    monkeypatch.chdir(tmp_path)
    capfdbinary.readouterr()
    save(format, "-")
    assert capfdbinary.readouterr().out == expected
    assert not (tmp_path / "-").exists()


@pytest.mark.parametrize("format", FORMATS)
def test_dash_is_stdin_for_load_plan(tmp_path, format):
    path = tmp_path / f"plan{FORMATS[format]}"
    save(format, path)
    script = (f"import eplb, numpy; p = eplb.load_plan('-', {format!r}, num_gpus=32); "
              "print(numpy.asarray(p[0]).sum())")
    with open(path, "rb") as stdin:
        result = subprocess.run([sys.executable, "-c", script], stdin=stdin, capture_output=True,
                                text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == int(np.asarray(plan()[0]).sum())


@pytest.mark.parametrize("format", FORMATS)
def test_dev_full_and_missing_folders_are_io_errors(tmp_path, format):
    with pytest.raises(eplb.IoError, match=": /dev/full: No space left on device$"):
        save(format, "/dev/full")
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)
    missing = tmp_path / "missing" / f"plan{FORMATS[format]}"
    with pytest.raises(FileNotFoundError, match="No such file or directory") as info:
        save(format, missing)
    assert isinstance(info.value, eplb.IoError)
    assert os.listdir(tmp_path) == []
