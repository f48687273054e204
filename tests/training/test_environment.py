"""What a run records about the machine: library versions and the CPU the timings depend on."""

from __future__ import annotations

from pathlib import Path

from hashgnn.training.rundir import cpu_info, describe_cpu, environment

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
