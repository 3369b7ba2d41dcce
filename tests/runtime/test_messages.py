"""errorf()/warnf() as user space prints them, and program options on the
command line (pure: no BPF)."""

import io

from pytrace.codegen.calls_checks import message_source
from pytrace.lang.source import Source
from pytrace.runtime import cli
from pytrace.runtime.output import json as json_format
from pytrace.runtime.output import text as text_format
from pytrace.runtime.output.writer import Writer

PROGRAM = 'macro bad() { errorf("x"); } BEGIN { bad(); }'


def _source():
    src = Source("stdin", PROGRAM)
    return message_source(src.span(14, 25), [src.span(37, 42)])


def test_text_message_then_where_it_was_expanded_from():
    assert text_format.message_event("ERROR", "went wrong", _source()) == (
        "stdin:1:15-26: ERROR: went wrong\n"
        "stdin:1:38-43: ERROR: expanded from\n"
        f"{PROGRAM}\n"
        "                                     ~~~~~\n")


def test_text_message_drops_one_trailing_newline():
    assert text_format.message_event("WARNING", "a\n\n", _source()).startswith("stdin:1:15-26: WARNING: a\n\n")
    assert text_format.message_event("WARNING", "a\n", _source()).startswith("stdin:1:15-26: WARNING: a\nstdin")


def test_json_message_has_the_calls_place_only():
    assert json_format.message_event("WARNING", 'a "b"', _source()) == (
        '{"type": "warnf", "msg": "a \\"b\\"", "filename": "stdin", "line": 1, "col": 15}\n')


def test_writer_sends_text_messages_to_stderr_and_drops_warnings_when_told():
    out, err = io.StringIO(), io.StringIO()
    w = Writer(text_format, out, err, warnings=False)
    w.message("WARNING", "quiet", _source())
    w.message("ERROR", "loud", _source())
    assert out.getvalue() == "" and err.getvalue().startswith("stdin:1:15-26: ERROR: loud\n")


def test_program_options_follow_double_dash():
    args = cli._parse(["-e", "BEGIN {}", "pos1", "--", "--aa=20", "pos2", "--dd", "--no-warnings"])
    assert args.rest == ["pos1", "pos2"]
    assert args.named == ["aa=20", "dd", "no-warnings"]
    assert not args.no_warnings
    assert cli._parse(["-e", "BEGIN {}"]).named == []


def test_pcap_writer_writes_libpcaps_raw_ip_format(tmp_path):
    import struct

    from pytrace.runtime.pcap import PcapWriter

    path = tmp_path / "x.pcap"
    w = PcapWriter(str(path))
    w.boot_to_epoch_ns = 1_000_000_000_000  # fixed for the test
    w.write(2_500_123_456, b"\x45\x00")
    w.close()
    data = path.read_bytes()
    assert struct.unpack("<IHHiIII", data[:24]) == (0xA1B2C3D4, 2, 4, 0, 0, 65535, 101)
    assert struct.unpack("<IIII", data[24:40]) == (1002, 500123, 2, 2)
    assert data[40:] == b"\x45\x00"


HELPER_SOURCE = {"label": "stdin:1:9-14", "filename": "stdin", "line": 1, "column": 9,
                 "context": "BEGIN { @x[2]; }\n        ~~~~~"}


def test_text_helper_error_names_the_helper_and_its_error():
    assert text_format.helper_error_event("probe_read_user", -14, HELPER_SOURCE) == (
        "stdin:1:9-14: WARNING: Bad address\n"
        "Additional Info - helper: probe_read_user, retcode: -14\n"
        "BEGIN { @x[2]; }\n        ~~~~~\n")


def test_text_helper_error_in_bpftraces_words_for_map_helpers():
    assert text_format.helper_message("map_lookup_elem", 0) == "Can't lookup map element because it does not exist."
    assert text_format.helper_message("map_delete_elem", -2) == "Can't delete map element because it does not exist."
    assert text_format.helper_message("map_delete_elem", -1) == "Operation not permitted"
    assert text_format.helper_message("map_update_elem", -7).startswith("Map full; can't update element.")


def test_json_helper_error_record_is_strerrors_text_and_the_place():
    assert json_format.helper_error_event("probe_read_user", -14, HELPER_SOURCE) == (
        '{"type": "helper_error", "msg": "Bad address", "helper": "probe_read_user", "retcode": -14, '
        '"filename": "stdin", "line": 1, "col": 9}\n')
    assert json_format.helper_error_event("map_lookup_elem", 0, HELPER_SOURCE).startswith(
        '{"type": "helper_error", "msg": "Success", "helper": "map_lookup_elem", "retcode": 0,')


def test_writer_drops_helper_errors_with_no_warnings():
    out, err = io.StringIO(), io.StringIO()
    Writer(json_format, out, err, warnings=False).helper_error("probe_read_user", -14, HELPER_SOURCE)
    Writer(text_format, out, err, warnings=False).helper_error("probe_read_user", -14, HELPER_SOURCE)
    assert out.getvalue() == err.getvalue() == ""
    Writer(json_format, out, err).helper_error("probe_read_user", -14, HELPER_SOURCE)
    assert out.getvalue().startswith('{"type": "helper_error"') and err.getvalue() == ""
