"""`-l 'struct NAME'` over the fixture kernel's BTF: names, and with -v definitions."""

from conftest import FIXTURE_KERNEL

from pytrace.lang import btf_listing
from pytrace.lang.probes import lookup


def test_type_names_sorted_and_filtered():
    btf = FIXTURE_KERNEL.btf()
    assert btf_listing.list_types(btf, "struct *s*", False) == [
        "struct __kernel_timespec", "struct bpf_iter__task", "struct bpf_iter__task_file", "struct bpf_iter__task_vma",
        "struct mm_struct", "struct sched_entity", "struct task_struct", "struct vm_area_struct"]
    assert btf_listing.list_types(btf, "enum *", False) == ["enum bpf_map_type", "enum task_state"]
    assert not btf_listing.is_type_search("kprobe:struct")
    assert btf_listing.is_type_search("union foo")


def test_verbose_definitions_as_libbpf_writes_them():
    btf = FIXTURE_KERNEL.btf()
    assert btf_listing.list_types(btf, "struct mm_struct", True) == [
        "vmlinux: struct mm_struct {",
        "\tlong unsigned int start_code;",
        "\tlong unsigned int end_code;",
        "\tstruct task_struct *owner;",
        "};",
        "",
    ]
    lines = btf_listing.list_types(btf, "struct task_struct", True)
    assert "\tchar comm[16];" in lines and "\tunsigned int in_execve: 1;" in lines
    assert btf_listing.list_types(btf, "enum task_state", True) == [
        "vmlinux: enum task_state {", "\tTASK_RUNNING = 0,", "\tTASK_INTERRUPTIBLE = 1,",
        "\tTASK_UNINTERRUPTIBLE = 2,", "};", ""]


def test_interval_profile_and_software_listing():
    assert lookup("interval").list_probes("interval:*") == [
        "interval:hz:", "interval:ms:", "interval:s:", "interval:us:"]
    assert lookup("profile").list_probes("profile:s") == ["profile:s:"]
    assert lookup("software").list_probes("software:c*") == [
        "software:cpu-clock:", "software:cpu:", "software:context-switches:", "software:cs:",
        "software:cpu-migrations:"]
