"""Tests for embedtornado.options, many run side by side with tornado.options."""

from __future__ import annotations

import datetime
import io
import os
import re
import sys
import textwrap
import traceback
from unittest import mock

import pytest
import tornado.options
from hypothesis import given, settings
from hypothesis import strategies as st

import embedtornado.log
import embedtornado.options
from embedtornado.options import Error, OptionParser

HERE = os.path.abspath(__file__)


def both():
    """A fresh embedtornado parser and a fresh tornado parser."""
    return OptionParser(), tornado.options.OptionParser()


def parse_both(define_kwargs, argv):
    """Define one option ``x`` on both parsers, parse ``argv``, return both values."""
    values = []
    for parser in both():
        parser.define("x", **define_kwargs)
        parser.parse_command_line(["prog", *argv])
        values.append(parser.x)
    return values


def write(tmp_path, text, name="app.conf"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return str(path)


# --------------------------------------------------------------------------
# Types and their spellings
# --------------------------------------------------------------------------

BOOL_SPELLINGS = {
    "true": True, "True": True, "TRUE": True, "1": True, "t": True, "T": True,
    "yes": True, "y": True, "on": True, "": True, "2": True,
    # Tornado only treats these three (any case) as false.
    "false": False, "False": False, "FALSE": False, "0": False, "f": False, "F": False,
    # ...so these are true, surprisingly, in both.
    "no": True, "off": True, "n": True,
}


@pytest.mark.parametrize("text,expected", sorted(BOOL_SPELLINGS.items()))
def test_bool_spellings(text, expected):
    ours, theirs = parse_both({"type": bool}, [f"--x={text}"])
    assert ours is expected
    assert theirs is expected


def test_bool_flag_without_value_is_true():
    assert parse_both({"type": bool}, ["--x"]) == [True, True]
    assert parse_both({"default": False}, ["--x"]) == [True, True]


@pytest.mark.parametrize(
    "kwargs,text,expected",
    [
        ({"type": str}, "hello, world", "hello, world"),
        ({"type": str}, "", ""),
        ({"type": str}, "caf\u00e9=1", "caf\u00e9=1"),
        ({"type": int}, "42", 42),
        ({"type": int}, "-7", -7),
        ({"type": int}, " 8 ", 8),
        ({"default": 1}, "0010", 10),
        ({"type": float}, "2.5", 2.5),
        ({"type": float}, "1e3", 1000.0),
        ({"type": float}, "-.5", -0.5),
        ({"default": 1.0}, "inf", float("inf")),
    ],
)
def test_scalar_types(kwargs, text, expected):
    ours, theirs = parse_both(kwargs, [f"--x={text}"])
    assert ours == theirs == expected
    assert type(ours) is type(expected)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("Wed Jan 31 09:15:02 2024", datetime.datetime(2024, 1, 31, 9, 15, 2)),
        ("2024-01-31 09:15:02", datetime.datetime(2024, 1, 31, 9, 15, 2)),
        ("2024-01-31 09:15", datetime.datetime(2024, 1, 31, 9, 15)),
        ("2024-01-31T09:15", datetime.datetime(2024, 1, 31, 9, 15)),
        ("20240131 09:15:02", datetime.datetime(2024, 1, 31, 9, 15, 2)),
        ("20240131 09:15", datetime.datetime(2024, 1, 31, 9, 15)),
        ("2024-01-31", datetime.datetime(2024, 1, 31)),
        ("20240131", datetime.datetime(2024, 1, 31)),
        ("09:15:02", datetime.datetime(1900, 1, 1, 9, 15, 2)),
        ("09:15", datetime.datetime(1900, 1, 1, 9, 15)),
    ],
)
def test_datetime_formats(text, expected):
    assert parse_both({"type": datetime.datetime}, [f"--x={text}"]) == [expected, expected]


def test_bad_datetime():
    p = OptionParser()
    p.define("when", type=datetime.datetime)
    with pytest.raises(Error, match="Unrecognized date/time format: 'next tuesday'") as info:
        p.parse_command_line(["prog", "--when=next tuesday"])
    assert "'when'" in str(info.value)
    t = tornado.options.OptionParser()
    t.define("when", type=datetime.datetime)
    with pytest.raises(tornado.options.Error):
        t.parse_command_line(["prog", "--when=next tuesday"])


@pytest.mark.parametrize(
    "text,expected",
    [
        ("45s", datetime.timedelta(seconds=45)),
        ("45", datetime.timedelta(seconds=45)),
        ("2d", datetime.timedelta(days=2)),
        ("1h 30m", datetime.timedelta(hours=1, minutes=30)),
        ("1h  30m  15s", datetime.timedelta(hours=1, minutes=30, seconds=15)),
        ("1.5h", datetime.timedelta(minutes=90)),
        ("3w", datetime.timedelta(weeks=3)),
        ("10min", datetime.timedelta(minutes=10)),
        ("2sec", datetime.timedelta(seconds=2)),
        ("250ms", datetime.timedelta(milliseconds=250)),
        ("7us", datetime.timedelta(microseconds=7)),
        ("1e3ms", datetime.timedelta(seconds=1)),
        ("2hours 5minutes", datetime.timedelta(hours=2, minutes=5)),
        ("-1d", datetime.timedelta(days=-1)),
        ("+.5 d", datetime.timedelta(hours=12)),
        ("", datetime.timedelta()),
    ],
)
def test_timedelta_spellings(text, expected):
    assert parse_both({"type": datetime.timedelta}, [f"--x={text}"]) == [expected, expected]


@pytest.mark.parametrize("text", ["1h30m", "soon", "5 fortnights", "1H", "h"])
def test_bad_timedelta(text):
    """Both reject these (Tornado with assorted exception types)."""
    p = OptionParser()
    p.define("x", type=datetime.timedelta)
    with pytest.raises(Error, match="'x'.*timedelta") as info:
        p.parse_command_line(["prog", f"--x={text}"])
    assert isinstance(info.value, ValueError)
    t = tornado.options.OptionParser()
    t.define("x", type=datetime.timedelta)
    with pytest.raises(Exception):
        t.parse_command_line(["prog", f"--x={text}"])


def test_custom_type_is_called_with_the_string():
    class Port(int):
        pass

    ours, theirs = parse_both({"type": Port}, ["--x=8080"])
    assert ours == theirs == 8080 and type(ours) is Port


def test_bad_int_names_option_and_is_a_value_error():
    p = OptionParser()
    p.define("port", type=int)
    with pytest.raises(ValueError) as info:
        p.parse_command_line(["prog", "--port=eighty"])
    assert isinstance(info.value, Error)
    assert str(info.value) == (
        "Option 'port' is required to be a int (str given): "
        "invalid literal for int() with base 10: 'eighty'"
    )
    t = tornado.options.OptionParser()
    t.define("port", type=int)
    with pytest.raises(ValueError):
        t.parse_command_line(["prog", "--port=eighty"])


def test_type_inference():
    p = OptionParser()
    p.define("a", default=3)
    p.define("b", default=3, multiple=True)  # multiple ignores the default's type
    p.define("c")
    p.define("d", default=datetime.timedelta(1))
    p.parse_command_line(["prog", "--a=4", "--b=4", "--c=4", "--d=2d"])
    assert (p.a, p.b, p.c, p.d) == (4, ["4"], "4", datetime.timedelta(days=2))


def outcome(parser_cls, kwargs, text):
    """The parsed value of ``--x=text``, or ``"error"`` if parsing raised."""
    parser = parser_cls()
    parser.define("x", **kwargs)
    try:
        parser.parse_command_line(["prog", "--x=" + text])
    except Exception:
        return "error"
    return parser.x


DIFFERENTIAL_CASES = [
    ({"type": int, "multiple": True}, "0 1:,-+"),
    ({"type": str, "multiple": True}, "ab,: "),
    ({"type": float}, "01.e-+ i"),
    ({"type": bool}, "fFaltrue0 1"),
    ({"type": datetime.timedelta}, "01.5e-+ hmsdwinu"),
]


@pytest.mark.parametrize("kwargs,alphabet", DIFFERENTIAL_CASES, ids=lambda v: str(v))
def test_differential_against_tornado(kwargs, alphabet):
    @settings(max_examples=300, deadline=None)
    @given(st.text(alphabet=alphabet, max_size=6))
    def check(text):
        assert outcome(OptionParser, kwargs, text) == outcome(
            tornado.options.OptionParser, kwargs, text
        )

    check()


# --------------------------------------------------------------------------
# multiple=True
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs,text,expected",
    [
        ({"type": str}, "a,b,c", ["a", "b", "c"]),
        ({"type": str}, "a", ["a"]),
        ({"type": str}, "", [""]),
        ({"type": str}, "a,,b", ["a", "", "b"]),
        ({"type": int}, "1,2,3", [1, 2, 3]),
        ({"type": int}, "1:3", [1, 2, 3]),
        ({"type": int}, "1:3,7,10:11", [1, 2, 3, 7, 10, 11]),
        ({"type": int}, "5:5", [5]),
        ({"type": int}, "5:3", []),
        ({"type": int}, "3:", [3]),
        ({"type": int}, "-2:1", [-2, -1, 0, 1]),
        ({"type": float}, "1.5,2", [1.5, 2.0]),
        ({"type": bool}, "true,false,0,yes", [1, 0, 0, 1]),
        ({"type": datetime.timedelta}, "1h,2m", [datetime.timedelta(hours=1), datetime.timedelta(minutes=2)]),
    ],
)
def test_multiple(kwargs, text, expected):
    ours, theirs = parse_both({"multiple": True, **kwargs}, [f"--x={text}"])
    assert ours == theirs == expected


def test_multiple_default_is_empty_list():
    p = OptionParser()
    p.define("x", multiple=True)
    assert p.x == []


def test_multiple_bad_item_keeps_old_value():
    p = OptionParser()
    p.define("ports", type=int, multiple=True, default=[1])
    with pytest.raises(Error, match="'ports' is required to be a list of int"):
        p.parse_command_line(["prog", "--ports=2,x"])
    assert p.ports == [1]
    with pytest.raises(ValueError):
        p.parse_command_line(["prog", "--ports=:3"])


# --------------------------------------------------------------------------
# Command-line mechanics
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["--a=1", "rest", "--b=2"],
        ["--a=1", "--", "--b=2", "x"],
        ["-a=1", "---b=2"],
        ["--a=1", "--"],
        [],
        ["positional"],
    ],
)
def test_remaining_arguments(argv):
    results = []
    for parser in both():
        parser.define("a", type=int)
        parser.define("b", type=int)
        rest = parser.parse_command_line(["prog", *argv])
        results.append((rest, parser.a, parser.b))
    assert results[0] == results[1]


def test_args_default_to_sys_argv(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["prog", "--a=5", "left"])
    p = OptionParser()
    p.define("a", type=int)
    assert p.parse_command_line() == ["left"]
    assert p.a == 5


def test_unknown_option_prints_help_and_raises(capsys):
    p = OptionParser()
    p.define("known")
    with pytest.raises(Error, match="Unrecognized command line option: 'un-known'"):
        p.parse_command_line(["prog", "--un_known=1"])
    err = capsys.readouterr().err
    assert "--known" in err and "Usage:" in err


def test_missing_value():
    p = OptionParser()
    p.define("name_x", type=str)
    with pytest.raises(Error, match="Option 'name-x' requires a value"):
        p.parse_command_line(["prog", "--name_x"])


def test_help_flag_prints_and_exits(capsys):
    p = OptionParser()
    p.define("port", default=80, help="listen port")
    with pytest.raises(SystemExit) as info:
        p.parse_command_line(["prog", "--help"])
    assert info.value.code == 0
    err = capsys.readouterr().err
    assert "--port" in err and "listen port (default 80)" in err
    assert "show this help information" in err


def test_dashes_and_underscores():
    for parser in both():
        parser.define("dash_name", default="")
        parser.define("under-name", default="")
        parser.parse_command_line(["prog", "--dash-name=a", "--under_name=b"])
        assert parser.dash_name == parser["dash-name"] == "a"
        assert parser.under_name == parser["under-name"] == "b"
        assert "dash-name" in parser and "dash_name" in parser
        assert "nope" not in parser
        # The original spelling is kept for introspection.
        assert {"dash_name", "under-name"} <= set(parser)
        assert parser.as_dict()["under-name"] == "b"


# --------------------------------------------------------------------------
# define() errors and bookkeeping
# --------------------------------------------------------------------------


def test_duplicate_define_names_file_and_line():
    p = OptionParser()
    first_line = sys._getframe().f_lineno + 1
    p.define("some_opt")
    with pytest.raises(Error) as info:
        p.define("some-opt")
    assert str(info.value) == f"Option 'some-opt' already defined in {HERE}:{first_line}"
    # Tornado's message starts the same way.
    t = tornado.options.OptionParser()
    t.define("some_opt")
    with pytest.raises(tornado.options.Error, match="Option 'some-opt' already defined in " + re.escape(HERE)):
        t.define("some-opt")


def test_duplicate_help_is_rejected():
    with pytest.raises(Error, match="Option 'help' already defined in .*options.py:"):
        OptionParser().define("help")


def test_group_defaults_to_defining_file():
    p = OptionParser()
    p.define("a")
    p.define("b", group="app")
    assert p.groups() == {"", HERE, "app"}
    assert p.group_dict("app") == {"b": None}
    assert p.group_dict(HERE) == {"a": None}
    assert set(p.group_dict("")) == {"help", "a", "b"}


def test_module_define_attributes_to_caller():
    name = "embedtornado_test_module_define"
    try:
        embedtornado.options.define(name, default=1)
        assert embedtornado.options.options._options[name.replace("_", "-")].file_name == HERE
        assert HERE in embedtornado.options.options.groups()
    finally:
        del embedtornado.options.options._options[name.replace("_", "-")]


# --------------------------------------------------------------------------
# Access, iteration and setting
# --------------------------------------------------------------------------


def test_attribute_and_item_access():
    p = OptionParser()
    p.define("a", default=1)
    p.define("b", default="x")
    assert p.a == p["a"] == 1
    p.a = 2
    assert p.a == 2
    p["a"] = 3
    assert p["a"] == 3
    p.a = None
    assert p.a is None
    with pytest.raises(AttributeError, match="Unrecognized option 'no-such'"):
        p.no_such
    with pytest.raises(AttributeError):
        p["no_such"]
    with pytest.raises(AttributeError):
        p.no_such = 1
    assert list(p) == ["help", "a", "b"]
    assert list(p.items()) == [("help", None), ("a", None), ("b", "x")]
    assert p.as_dict() == {"help": None, "a": None, "b": "x"}


def test_setattr_checks_type():
    p = OptionParser()
    p.define("port", default=80)
    p.define("ratio", default=1.0)
    p.define("hosts", multiple=True)
    with pytest.raises(Error, match=r"^Option 'port' is required to be a int \(str given\)$"):
        p.port = "80"
    with pytest.raises(Error, match="'ratio' is required to be a float"):
        p.ratio = 1  # no int-to-float promotion, as in Tornado
    p.port = True  # bool is an int
    with pytest.raises(Error, match="'hosts' is required to be a list of str"):
        p.hosts = ("a",)
    with pytest.raises(Error, match="list of str"):
        p.hosts = ["a", 1]
    p.hosts = ["a", None]
    assert p.hosts == ["a", None]


def test_uninitialised_parser_does_not_recurse():
    bare = object.__new__(OptionParser)
    assert getattr(bare, "port", None) is None


def test_mockable():
    p = OptionParser()
    p.define("port", default=80)
    with mock.patch.object(p.mockable(), "port", 9999):
        assert p.port == 9999
    assert p.port == 80
    m = p.mockable()
    m.port = 1
    assert m.port == 1 == p.port
    with pytest.raises(AssertionError):
        m.port = 2
    del m.port
    assert p.port == 80


# --------------------------------------------------------------------------
# Callbacks
# --------------------------------------------------------------------------


def test_option_callback_on_set_and_parse():
    seen = []
    p = OptionParser()
    p.define("n", type=int, callback=seen.append)
    p.define("m", type=int, multiple=True, callback=seen.append)
    p.n = 1
    p.parse_command_line(["prog", "--n=2", "--m=1:2"])
    assert seen == [1, 2, [1, 2]]
    with pytest.raises(Error):
        p.n = "3"
    assert seen == [1, 2, [1, 2]]


def test_parse_callbacks_run_only_when_final(tmp_path):
    calls = []
    p = OptionParser()
    p.define("a", default=1)
    p.add_parse_callback(lambda: calls.append(("first", p.a)))
    p.add_parse_callback(lambda: calls.append(("second", p.a)))
    p.parse_command_line(["prog", "--a=2"], final=False)
    assert calls == []
    p.parse_config_file(write(tmp_path, "a = 3\n"), final=False)
    assert calls == []
    p.parse_config_file(write(tmp_path, "a = 4\n"))
    assert calls == [("first", 4), ("second", 4)]
    p.parse_command_line(["prog", "--a=5"])
    assert calls[2:] == [("first", 5), ("second", 5)]
    p.run_parse_callbacks()
    assert len(calls) == 6


def test_config_option_callback_chains_files(tmp_path):
    conf = write(tmp_path, "port = 7000\nname = 'conf'\n")
    p = OptionParser()
    p.define("port", default=80)
    p.define("name", default="")
    p.define("config", callback=lambda path: p.parse_config_file(path, final=False))
    p.parse_command_line(["prog", "--port=1", f"--config={conf}", "--name=cli"], final=False)
    assert (p.port, p.name) == (7000, "cli")


# --------------------------------------------------------------------------
# Config files
# --------------------------------------------------------------------------


def test_config_file_values_match_tornado(tmp_path):
    path = write(
        tmp_path,
        """\
        import os
        port = 8000
        ratio = 0.5
        debug = True
        name = 'caf\u00e9'
        when = '2024-01-31 09:15'
        timeout = datetime_free = '1h 30m'
        hosts = ['a', 'b']
        ports = '1:3,9'
        flags_str = 'f'
        base_dir = os.path.dirname(__file__)
        log_level = 'debug'
        unknown_setting = object()
        def helper():
            return port
        """,
    )
    results = []
    for parser in both():
        parser.define("port", default=80)
        parser.define("ratio", default=1.0)
        parser.define("debug", default=False)
        parser.define("name", default="")
        parser.define("when", type=datetime.datetime)
        parser.define("timeout", type=datetime.timedelta)
        parser.define("hosts", multiple=True)
        parser.define("ports", type=int, multiple=True)
        parser.define("flags-str", type=bool)
        parser.define("base_dir", type=str)
        parser.define("log-level", type=str)
        parser.parse_config_file(path, final=False)
        results.append(parser.as_dict())
    assert results[0] == results[1]
    assert results[0]["base_dir"] == str(tmp_path)
    assert results[0]["ports"] == [1, 2, 3, 9]
    assert results[0]["flags-str"] is False


def test_config_file_dunder_file_is_absolute(tmp_path, monkeypatch):
    write(tmp_path, "where = __file__\n", "rel.conf")
    monkeypatch.chdir(tmp_path)
    p = OptionParser()
    p.define("where")
    p.parse_config_file("rel.conf")
    assert p.where == str(tmp_path / "rel.conf")


def test_config_file_wrong_type_names_option_file_and_line(tmp_path):
    path = write(tmp_path, "# settings\nname = 'x'\nport = 8.5\n")
    p = OptionParser()
    p.define("port", default=80)
    p.define("name", default="")
    with pytest.raises(Error) as info:
        p.parse_config_file(path)
    assert str(info.value) == f"Option 'port' is required to be a int (float given) in {path} line 3"
    assert not isinstance(info.value, ValueError)
    assert p.name == "x"  # earlier names were applied, as in Tornado


def test_config_file_unparseable_string(tmp_path):
    path = write(tmp_path, "port = 80\nif True:\n    port = 'eighty'\n")
    p = OptionParser()
    p.define("port", default=80)
    with pytest.raises(ValueError) as info:
        p.parse_config_file(path)
    assert isinstance(info.value, Error)
    assert str(info.value) == (
        f"Option 'port' is required to be a int (str given) in {path} line 3: "
        "invalid literal for int() with base 10: 'eighty'"
    )


def test_config_file_multiple_errors(tmp_path):
    p = OptionParser()
    p.define("hosts", multiple=True)
    p.define("ports", type=int, multiple=True)
    path = write(tmp_path, "hosts = ('a', 'b')\n")
    with pytest.raises(
        Error,
        match=r"^Option 'hosts' is required to be a list of str or a comma-separated string "
        r"in .*app.conf line 1$",
    ):
        p.parse_config_file(path)
    path = write(tmp_path, "x = 1\nports = [1,\n    '2']\n")
    with pytest.raises(Error, match=r"^Option 'ports' is required to be a list of int in .* line 2$"):
        p.parse_config_file(path)
    path = write(tmp_path, "ports = '1,two'\n")
    with pytest.raises(Error, match=r"list of int \(str given\) in .* line 1: invalid literal"):
        p.parse_config_file(path)


def test_config_file_line_for_other_bindings(tmp_path):
    path = write(tmp_path, "import os\n\ndef port():\n    pass\n")
    p = OptionParser()
    p.define("port", default=80)
    with pytest.raises(Error, match=r"\(function given\) in .* line 3$"):
        p.parse_config_file(path)
    path = write(tmp_path, "for port in [1.5]:\n    pass\n")
    with pytest.raises(Error, match=r"\(float given\) in .* line 1$"):
        p.parse_config_file(path)
    path = write(tmp_path, "import os as port\n")
    with pytest.raises(Error, match=r"\(module given\) in .* line 1$"):
        p.parse_config_file(path)
    path = write(tmp_path, "globals()['port'] = 1.5\n")
    with pytest.raises(Error, match=rf"\(float given\) in {re.escape(path)}$"):
        p.parse_config_file(path)


def test_config_file_syntax_error(tmp_path):
    path = write(tmp_path, "port = 80\nname = 'unterminated\n")
    p = OptionParser()
    with pytest.raises(Error, match=rf"^Syntax error in {re.escape(path)} line 2: ") as info:
        p.parse_config_file(path)
    assert isinstance(info.value, SyntaxError)
    with pytest.raises(SyntaxError):
        tornado.options.OptionParser().parse_config_file(path)


def test_config_file_runtime_error_points_into_file(tmp_path):
    path = write(tmp_path, "port = 80\nport = undefined_name\n")
    p = OptionParser()
    with pytest.raises(NameError) as info:
        p.parse_config_file(path)
    frames = traceback.extract_tb(info.value.__traceback__)
    assert (frames[-1].filename, frames[-1].lineno) == (path, 2)


def test_config_file_does_not_inherit_future_flags(tmp_path):
    """This module postpones annotations; config files must not."""
    path = write(tmp_path, "x: undefined_name = 1\n")
    for parser in both():
        with pytest.raises(NameError):
            parser.parse_config_file(path)


def test_config_file_is_utf8(tmp_path):
    path = tmp_path / "u.conf"
    path.write_bytes("name = 'gr\u00fc\u00df'\n".encode())
    p = OptionParser()
    p.define("name")
    p.parse_config_file(str(path))
    assert p.name == "gr\u00fc\u00df"


def test_config_file_callbacks_on_set(tmp_path):
    seen = []
    p = OptionParser()
    p.define("a", type=int, callback=seen.append)
    p.define("b", type=int, multiple=True, callback=seen.append)
    p.parse_config_file(write(tmp_path, "b = '1:2'\na = '7'\nb = [4]\n"))
    assert seen == [[4], 7]


# --------------------------------------------------------------------------
# Help output
# --------------------------------------------------------------------------


def test_print_help_matches_tornado(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["myprog"])
    outputs = []
    for parser in both():
        parser.define("port", default=8080, help="port to listen on")
        parser.define("hosts", multiple=True, metavar="HOST[,HOST]", help="upstream hosts " * 8)
        parser.define("empty", default="", help="empty default is not shown")
        parser.define("a_very_long_option_name_for_wrapping", metavar="VALUE")
        parser.define("nohelp", type=int)
        parser.define("tpl", group="application", default="templates")
        parser.define("debug", group="application", default=False, help="debug mode")
        out = io.StringIO()
        parser.print_help(out)
        outputs.append(out.getvalue())
    assert outputs[0] == outputs[1]
    text = outputs[0]
    assert text.startswith("Usage: myprog [OPTIONS]\n\nOptions:\n\n")
    assert f"\n{os.path.normpath(HERE)} options:\n" in text
    assert "\napplication options:\n" in text
    assert "  --port                           port to listen on (default 8080)\n" in text
    assert "--debug                          debug mode (default False)" in text
    assert "(default templates)" in text
    assert "empty default is not shown\n" in text
    # The groups come in sorted order, and options sorted inside each.
    assert text.index("--help") < text.index("--hosts") < text.index("--tpl")
    assert text.index("--debug") < text.index("--tpl")


def test_print_help_to_stderr_by_default(capsys):
    p = OptionParser()
    p.define("zzz", default=3)
    p.print_help()
    captured = capsys.readouterr()
    assert captured.out == "" and "--zzz" in captured.err and "(default 3)" in captured.err


def test_print_help_groups_by_file():
    """The global parser lists the logging options under log.py."""
    out = io.StringIO()
    embedtornado.options.options.print_help(out)
    text = out.getvalue()
    log_file = os.path.normpath(embedtornado.log.__file__)
    assert f"\n{log_file} options:\n" in text
    section = " ".join(text.split(f"{log_file} options:")[1].split())
    for flag in ("--logging=debug|info|warning|error|none", "--log-file-prefix=PATH",
                 "--log-rotate-mode", "(default info)", "(default size)", "(default midnight)"):
        assert flag in section


# --------------------------------------------------------------------------
# The global parser and module-level functions
# --------------------------------------------------------------------------


@pytest.fixture
def global_option():
    """Define ``et_test_opt`` on the global parser; remove it afterwards."""
    opts = embedtornado.options.options
    embedtornado.options.define("et_test_opt", type=int, default=0)
    callbacks = list(opts._parse_callbacks)
    try:
        yield opts
    finally:
        del opts._options["et-test-opt"]
        opts._parse_callbacks[:] = callbacks


def test_module_level_functions(global_option, tmp_path, capsys):
    mod = embedtornado.options
    opts = global_option
    called = []
    mod.add_parse_callback(lambda: called.append(opts.et_test_opt))
    assert mod.parse_command_line(["prog", "--et-test-opt=5", "x"], final=False) == ["x"]
    assert opts.et_test_opt == 5
    mod.parse_config_file(write(tmp_path, "et_test_opt = 6\n"), final=False)
    assert opts.et_test_opt == 6 and called == []
    assert isinstance(opts, OptionParser)
    mod.print_help()
    assert "--et-test-opt" in capsys.readouterr().err


def test_global_has_tornado_logging_options():
    ours = embedtornado.options.options
    theirs = tornado.options.options
    names = [
        "logging", "log_to_stderr", "log_file_prefix", "log_file_max_size",
        "log_file_num_backups", "log_rotate_when", "log_rotate_interval", "log_rotate_mode",
    ]
    for name in names:
        assert name in ours
        a, b = ours._options[name.replace("_", "-")], theirs._options[name.replace("_", "-")]
        assert (a.name, a.type, a.default, a.metavar, a.multiple) == (
            b.name, b.type, b.default, b.metavar, b.multiple
        )
