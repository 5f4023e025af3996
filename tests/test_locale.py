"""embedtornado.locale beside tornado.locale: the same files loaded by both give the same answers."""

from __future__ import annotations

import codecs
import datetime
import logging
import struct

import pytest
import tornado.locale

import embedtornado.locale
from embedtornado import locale

MODULES = (locale, tornado.locale)


@pytest.fixture(autouse=True)
def fresh_state():
    """Each test starts with no translations and en_US as the default, in both modules."""
    saved = [(m._default_locale, m._translations, m._supported_locales, m._use_gettext,
              dict(m.Locale._cache)) for m in MODULES]
    for m in MODULES:
        m._default_locale = "en_US"
        m._translations = {}
        m._supported_locales = frozenset(["en_US"])
        m._use_gettext = False
        m.Locale._cache = {}
    yield
    for m, (default, translations, supported, use_gettext, cache) in zip(MODULES, saved):
        m._default_locale, m._translations = default, translations
        m._supported_locales, m._use_gettext = supported, use_gettext
        m.Locale._cache = cache


def write_mo(path, messages, plural_forms="nplurals=2; plural=(n > 1);"):
    """Write a GNU .mo catalogue: ``messages`` maps msgid (with context and plural
    joined the gettext way) to msgstr."""
    catalogue = {"": f"Content-Type: text/plain; charset=utf-8\nPlural-Forms: {plural_forms}\n"}
    catalogue.update(messages)
    keys = sorted(catalogue)
    ids = [k.encode() for k in keys]
    strs = [catalogue[k].encode() for k in keys]
    count = len(keys)
    header_size = 7 * 4
    ids_table = header_size
    strs_table = ids_table + count * 8
    data_start = strs_table + count * 8
    blob = b""
    id_entries, str_entries = [], []
    for raw in ids:
        id_entries.append((len(raw), data_start + len(blob)))
        blob += raw + b"\0"
    for raw in strs:
        str_entries.append((len(raw), data_start + len(blob)))
        blob += raw + b"\0"
    out = struct.pack("<7I", 0x950412DE, 0, count, ids_table, strs_table, 0, 0)
    out += b"".join(struct.pack("<2I", *e) for e in id_entries)
    out += b"".join(struct.pack("<2I", *e) for e in str_entries)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(out + blob)


def gettext_tree(tmp_path):
    sep = locale.CONTEXT_SEPARATOR
    write_mo(tmp_path / "fr_FR" / "LC_MESSAGES" / "app.mo", {
        "school": "école",
        f"law{sep}right": "le droit",
        f"good{sep}right": "le bien",
        f"organization{sep}club\0clubs": "le club\0les clubs",
        "apple\0apples": "pomme\0pommes",
        "Monday": "lundi",
    })
    write_mo(tmp_path / "de" / "LC_MESSAGES" / "app.mo", {"school": "Schule"},
             plural_forms="nplurals=2; plural=(n != 1);")
    return tmp_path


def csv_tree(tmp_path):
    (tmp_path / "es_LA.csv").write_text(
        '"I love you","Te amo"\n'
        '"%(name)s liked this","A %(name)s les gustó esto","plural"\n'
        '"%(name)s liked this","A %(name)s le gustó esto","singular"\n'
        '"January", "enero" \n'
        '\n'
        '"lonely"\n'
        '"Monday","lunes",""\n', encoding="utf-8")
    (tmp_path / "fr_FR.csv").write_bytes(codecs.BOM_UTF8 + '"school","école"\n'.encode())
    (tmp_path / "README.txt").write_text("not a translation")
    return tmp_path


def both(fn):
    """fn(module) for our module and Tornado's."""
    return fn(locale), fn(tornado.locale)


# --- loading ---------------------------------------------------------------------------------


def test_csv_translations_match_tornado(tmp_path):
    csv_tree(tmp_path)
    for m in MODULES:
        m.load_translations(str(tmp_path))
    assert sorted(locale.get_supported_locales()) == ["en_US", "es_LA", "fr_FR"]
    assert sorted(locale.get_supported_locales()) == sorted(tornado.locale.get_supported_locales())
    for code in ("es_LA", "fr_FR", "en_US"):
        ours, theirs = both(lambda m: m.get(code))
        assert type(ours).__name__ == type(theirs).__name__ == "CSVLocale"
        assert ours.translations == theirs.translations
        for args in [("I love you",), ("school",), ("missing",), ("January",), ("Monday",),
                     ("%(name)s liked this", "%(name)s liked this", 1),
                     ("%(name)s liked this", "%(name)s liked this", 3),
                     ("apple", "apples", 0)]:
            assert ours.translate(*args) == theirs.translate(*args), (code, args)
    es = locale.get("es_LA")
    assert es.translate("I love you") == "Te amo"
    assert es.translate("%(name)s liked this", "%(name)s liked this", 2) == \
        "A %(name)s les gustó esto"
    # Excel's dialect: a space after the comma makes the quotes part of the
    # cell, which is then stripped of the spaces only.
    assert es.translate("January") == '"enero"'
    assert locale.get("fr_FR").translate("school") == "école"  # a UTF-8 BOM is skipped


@pytest.mark.parametrize("bom, codec", [(codecs.BOM_UTF16_LE, "utf-16-le"),
                                        (codecs.BOM_UTF16_BE, "utf-16-be")])
def test_utf16_file_found_by_its_bom_as_in_tornado(tmp_path, bom, codec):
    (tmp_path / "de.csv").write_bytes(bom + '"school","Schule"\n'.encode(codec))
    for m in MODULES:
        m.load_translations(str(tmp_path))
    ours, theirs = both(lambda m: m.get("de").translate("school"))
    assert ours == theirs == "Schule"


def test_each_csv_file_gets_its_own_encoding(tmp_path):
    # Tornado detects the encoding on the first file and reuses it for the
    # rest; we detect it per file (docs/compat-notes.md).
    (tmp_path / "de.csv").write_bytes(codecs.BOM_UTF16_LE
                                      + '"school","Schule"\n'.encode("utf-16-le"))
    (tmp_path / "fr.csv").write_text('"school","école"\n', encoding="utf-8")
    locale.load_translations(str(tmp_path))
    assert locale.get("de").translate("school") == "Schule"
    assert locale.get("fr").translate("school") == "école"


def test_explicit_encoding(tmp_path):
    (tmp_path / "fr.csv").write_bytes('"school","école"\n'.encode("latin-1"))
    locale.load_translations(str(tmp_path), encoding="latin-1")
    assert locale.get("fr").translate("school") == "école"


def test_bad_files_and_rows_are_logged_with_their_place_and_skipped(tmp_path, caplog):
    (tmp_path / "es_LA.csv").write_text('"a","b"\n"c","d","dual"\n"e","f","plural"\n')
    (tmp_path / "Bad-Name.csv").write_text('"a","b"\n')
    (tmp_path / "two.dots.csv").write_text('"a","b"\n')
    (tmp_path / "fr.csv").write_bytes(b'"school","\xe9cole"\n')  # Latin-1, not UTF-8
    with caplog.at_level(logging.ERROR, logger="embedtornado.general"):
        locale.load_translations(str(tmp_path))
    messages = [r.getMessage() for r in caplog.records]
    assert any("'dual'" in m and "es_LA.csv line 2" in m for m in messages), messages
    assert any("'Bad-Name'" in m for m in messages), messages
    assert any("'two.dots'" in m for m in messages), messages
    assert any("fr.csv" in m and "decode" in m for m in messages), messages
    assert sorted(locale.get_supported_locales()) == ["en_US", "es_LA"]
    es = locale.get("es_LA")
    assert es.translate("a") == "b" and es.translate("c") == "c"
    assert es.translate("e", "e", 2) == "f"


def test_loading_again_replaces_the_translations_and_the_cached_locales(tmp_path):
    first, second = tmp_path / "one", tmp_path / "two"
    first.mkdir()
    second.mkdir()
    (first / "fr.csv").write_text('"school","école"\n')
    (second / "fr.csv").write_text('"school","lycée"\n')
    (second / "de.csv").write_text('"school","Schule"\n')
    locale.load_translations(str(first))
    assert locale.get("fr").translate("school") == "école"
    locale.load_translations(str(second))
    # Tornado keeps the Locale made before the reload (its cache is never emptied).
    assert locale.get("fr").translate("school") == "lycée"
    assert locale.get("de").translate("school") == "Schule"


def test_gettext_translations_match_tornado(tmp_path):
    gettext_tree(tmp_path)
    for m in MODULES:
        m.load_gettext_translations(str(tmp_path), "app")
    assert sorted(locale.get_supported_locales()) == ["de", "en_US", "fr_FR"]
    cases = [
        ("translate", "school"), ("translate", "missing"), ("translate", "apple", "apples", 1),
        ("translate", "apple", "apples", 2), ("translate", "pear", "pears", 2),
        ("pgettext", "law", "right"), ("pgettext", "good", "right"),
        ("pgettext", "other", "right"), ("pgettext", "organization", "club", "clubs", 1),
        ("pgettext", "organization", "club", "clubs", 5),
        ("pgettext", "stick", "club", "clubs", 5),
    ]
    for code in ("fr_FR", "de", "en_US"):
        ours, theirs = both(lambda m: m.get(code))
        assert type(ours).__name__ == type(theirs).__name__
        for method, *args in cases:
            assert getattr(ours, method)(*args) == getattr(theirs, method)(*args), (code, args)
    fr = locale.get("fr_FR")
    assert isinstance(fr, locale.GettextLocale)
    assert fr.translate("school") == "école"
    assert fr.pgettext("law", "right") == "le droit"
    assert fr.pgettext("good", "right") == "le bien"
    assert fr.pgettext("other", "right") == "right"
    assert fr.pgettext("organization", "club", "clubs", 2) == "les clubs"
    assert fr.pgettext("stick", "club", "clubs", 2) == "clubs"
    assert fr.format_day(datetime.datetime(2013, 4, 29)).startswith("lundi, ")


def test_unreadable_mo_file_is_logged_and_skipped(tmp_path, caplog):
    gettext_tree(tmp_path)
    broken = tmp_path / "it" / "LC_MESSAGES" / "app.mo"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"not a catalogue")
    with caplog.at_level(logging.ERROR, logger="embedtornado.general"):
        locale.load_gettext_translations(str(tmp_path), "app")
    assert any("'it'" in r.getMessage() for r in caplog.records)
    assert sorted(locale.get_supported_locales()) == ["de", "en_US", "fr_FR"]


def test_csv_pgettext_warns_only_with_translations(tmp_path, caplog):
    (tmp_path / "fr.csv").write_text('"school","école"\n')
    locale.load_translations(str(tmp_path))
    with caplog.at_level(logging.WARNING, logger="embedtornado.general"):
        assert locale.get("en_US").pgettext("ctx", "school") == "school"
        assert not caplog.records
        assert locale.get("fr").pgettext("ctx", "school") == "école"
    assert [r.getMessage() for r in caplog.records] == ["pgettext is not supported by CSVLocale"]


# --- choosing a locale -----------------------------------------------------------------------


@pytest.mark.parametrize("codes", [
    (), ("",), ("fr_FR",), ("fr-fr",), ("FR_fr",), ("fr",), ("fr_CA",), ("es",), ("es_LA",),
    ("es-la",), ("de_AT", "fr"), ("xx", "de"), ("a_b_c", "fr"), ("zz",), ("en",), ("EN",),
    ("pt-BR", "es_MX"), (None, "fr"),
])
def test_get_closest_matches_tornado(tmp_path, codes):
    for name in ("fr_FR", "es_LA", "de"):
        (tmp_path / f"{name}.csv").write_text('"a","b"\n')
    for m in MODULES:
        m.load_translations(str(tmp_path))
    ours, theirs = both(lambda m: m.get(*codes))
    assert ours.code == theirs.code


def test_set_default_locale(tmp_path):
    (tmp_path / "fr.csv").write_text('"a","b"\n')
    locale.load_translations(str(tmp_path))
    assert locale.get("xx").code == "en_US"
    locale.set_default_locale("de_DE")
    assert sorted(locale.get_supported_locales()) == ["de_DE", "fr"]
    assert locale.get("xx").code == "de_DE"
    assert locale.get("de").code == "de_DE" or locale.get("de").code == "de_DE"
    assert locale.get("de_DE").translate("a") == "a"


def test_get_of_an_unsupported_code_names_it():
    with pytest.raises(ValueError, match="'fr_FR' is not supported"):
        locale.Locale.get("fr_FR")


def test_names_and_direction_match_tornado():
    codes = sorted(tornado.locale.LOCALE_NAMES) + ["xx_YY"]
    for m in MODULES:
        m.set_default_locale("en_US")
        m._supported_locales = frozenset(codes)
    assert locale.LOCALE_NAMES == tornado.locale.LOCALE_NAMES
    for code in codes:
        ours, theirs = both(lambda m: m.Locale.get(code))
        assert (ours.code, ours.name, ours.rtl) == (theirs.code, theirs.name, theirs.rtl)
    assert locale.Locale.get("es_LA").name == "Español"
    assert locale.Locale.get("fa_IR").rtl and not locale.Locale.get("fr_FR").rtl
    assert locale.Locale.get("xx_YY").name == "Unknown"


# --- formatting ------------------------------------------------------------------------------


def ages():
    """Offsets into the past (and a few into the future), away from the rules' boundaries."""
    seconds = [0, 1, 2, 30, 70, 150, 1790, 3500, 5400, 7200, 20000]
    hours = [25, 30, 47, 50, 72, 100, 200, 24 * 30, 24 * 200, 24 * 340, 24 * 400, 24 * 800]
    return ([datetime.timedelta(seconds=s) for s in seconds]
            + [datetime.timedelta(hours=h) for h in hours]
            + [-datetime.timedelta(seconds=20), -datetime.timedelta(hours=3),
               -datetime.timedelta(days=40)])


@pytest.mark.parametrize("code", ["en_US", "en", "fr_FR", "zh_CN", "fa_IR"])
@pytest.mark.parametrize("options", [
    {}, {"relative": False}, {"shorter": True}, {"full_format": True},
    {"gmt_offset": 300}, {"gmt_offset": -540, "shorter": True}, {"relative": False, "shorter": True},
])
def test_format_date_matches_tornado(code, options):
    for m in MODULES:
        m._supported_locales = frozenset([code, "en_US"])
    ours, theirs = both(lambda m: m.Locale.get(code))
    now = datetime.datetime.now(datetime.timezone.utc)
    for age in ages():
        moment = now - age
        for value in (moment, moment.replace(tzinfo=None), moment.timestamp(),
                      moment.astimezone(datetime.timezone(datetime.timedelta(hours=5)))):
            assert ours.format_date(value, **options) == theirs.format_date(value, **options), \
                (age, value, options)


def test_format_date_examples():
    en = locale.get("en_US")
    now = datetime.datetime.now(datetime.timezone.utc)
    assert en.format_date(now - datetime.timedelta(seconds=2)) == "2 seconds ago"
    assert en.format_date(now - datetime.timedelta(minutes=2)) == "2 minutes ago"
    assert en.format_date(now - datetime.timedelta(hours=2)) == "2 hours ago"
    assert en.format_date(now + datetime.timedelta(seconds=20)) == "1 second ago" \
        or en.format_date(now + datetime.timedelta(seconds=20)) == "0 seconds ago"
    assert en.format_date(datetime.datetime(1980, 7, 10, 21, 15), full_format=True) == \
        "July 10, 1980 at 9:15 pm"
    assert en.format_date(datetime.datetime(1980, 7, 10, 21, 15), shorter=True) == \
        "July 10, 1980"


def test_format_day_list_and_numbers_match_tornado():
    for code in ("en_US", "en", "fr_FR", "fa_IR"):
        for m in MODULES:
            m._supported_locales = frozenset([code, "en_US"])
        ours, theirs = both(lambda m: m.Locale.get(code))
        day = datetime.datetime(2013, 4, 28, 18, 35)
        for kwargs in ({}, {"dow": False}, {"gmt_offset": 1200}, {"gmt_offset": -300}):
            assert ours.format_day(day, **kwargs) == theirs.format_day(day, **kwargs)
        for parts in ([], ["A"], ["A", "B"], ["A", "B", "C"], ("x", "y", "z", "w")):
            assert ours.list(parts) == theirs.list(parts)
        for n in (0, 7, 999, 1000, 123456, 1000000, -1234567):
            assert ours.friendly_number(n) == theirs.friendly_number(n)
    en = locale.get("en_US")
    assert en.format_day(datetime.datetime(2013, 4, 28, 18, 35)) == "Sunday, April 28"
    assert en.list(["A", "B", "C"]) == "A, B and C"
    assert en.friendly_number(1000000) == "1,000,000"


def test_plural_without_count_is_a_clear_error():
    with pytest.raises(TypeError, match="count"):
        locale.get("en_US").translate("apple", "apples")


def test_module_is_reachable_from_the_package():
    assert embedtornado.locale is locale
