"""What a run records about the machine: library versions and the CPU the timings depend on."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from hashgnn.training.rundir import code_version, cpu_info, describe_cpu, environment

X86 = """processor\t: 0
model name\t: AMD EPYC 9B14
flags\t\t: fpu sse4_2 popcnt avx avx2 fma avx512f avx512bw avx512_vpopcntdq
processor\t: 1
model name\t: AMD EPYC 9B14
flags\t\t: fpu sse4_2 popcnt avx avx2 fma avx512f avx512bw avx512_vpopcntdq
"""

ARM = """processor\t: 0
Features\t: fp asimd evtstrm aes crc32
CPU part\t: 0xd0c
"""


def test_cpu_info_reads_model_and_vector_extensions_from_x86_cpuinfo(tmp_path: Path):
    path = tmp_path / "cpuinfo"
    path.write_text(X86)
    cpu = cpu_info(path)
    assert cpu["model"] == "AMD EPYC 9B14"
    assert cpu["simd"] == ["sse4_2", "popcnt", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_vpopcntdq"]
    assert cpu["logical_cores"] >= 1
    assert describe_cpu(cpu).startswith("AMD EPYC 9B14, ") and describe_cpu(cpu).endswith("avx512_vpopcntdq")


def test_cpu_info_reads_arm_features_and_survives_a_missing_file(tmp_path: Path):
    arm = tmp_path / "cpuinfo"
    arm.write_text(ARM)
    assert cpu_info(arm)["simd"] == ["asimd"]
    missing = cpu_info(tmp_path / "absent")
    assert missing["simd"] == [] and isinstance(missing["model"], str)
    assert describe_cpu(missing).endswith("SIMD none listed")


def test_environment_records_versions_and_cpu():
    env = environment()
    assert env["versions"]["torch"] and env["versions"]["numpy"]
    assert set(env["cpu"]) == {"model", "logical_cores", "simd"}


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_code_version_is_head_and_whether_tracked_files_changed(tmp_path: Path):
    def git(*args: str) -> str:
        return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path,
                              check=True, capture_output=True, text=True).stdout.strip()

    read = code_version.__wrapped__  # the cached function reads once per process; here every state is read
    assert read(tmp_path) == (None, None)
    git("init", "-q")
    (tmp_path / "model.py").write_text("a = 1\n")
    git("add", "model.py")
    git("commit", "-qm", "first")
    head = git("rev-parse", "HEAD")
    (tmp_path / "notes.txt").write_text("untracked files do not make the code dirty\n")
    assert read(tmp_path) == (head, False)
    (tmp_path / "model.py").write_text("a = 2\n")
    assert read(tmp_path) == (head, True)
    assert code_version() == code_version()  # cached: the same answer for the whole process
    assert set(environment()) >= {"git_commit", "git_dirty"}
