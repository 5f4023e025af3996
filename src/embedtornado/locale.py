"""Translations and locale-aware formatting of dates, lists and numbers.

Load the translations once at start-up, then ask for the locale closest to
what a user prefers::

    import embedtornado.locale

    embedtornado.locale.load_translations("translations")   # es_LA.csv, fr_FR.csv, ...
    user_locale = embedtornado.locale.get("es_LA", "fr_FR")
    print(user_locale.translate("Sign out"))
    print(user_locale.translate("%(name)s liked this", "%(name)s liked this", count=2)
          % {"name": "Ana"})
    print(user_locale.format_date(1700000000, relative=False))

In a handler, ``self.locale`` is the locale of the request (the user's from
`~embedtornado.web.RequestHandler.get_user_locale`, else the one the
``Accept-Language`` header prefers), and templates see it as ``locale`` with
its ``translate`` as ``_``.

Translations come from one of two sources:

- `load_translations`: a directory of ``LOCALE.csv`` files (``es_LA.csv``),
  each row ``"message","translation"`` with an optional third column
  ``plural``, ``singular`` or ``unknown``;
- `load_gettext_translations`: a gettext tree,
  ``DIRECTORY/LANG/LC_MESSAGES/DOMAIN.mo``, which also supports message
  contexts (`Locale.pgettext`).

Messages are written in the default locale's language (``en_US`` unless
`set_default_locale` says otherwise); a message without a translation is
returned as it is.
"""

from __future__ import annotations

import codecs
import datetime
import os
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from embedtornado._locale_data import LOCALE_NAMES
from embedtornado.log import gen_log

if TYPE_CHECKING:
    import gettext

__all__ = [
    "CONTEXT_SEPARATOR",
    "CSVLocale",
    "GettextLocale",
    "LOCALE_NAMES",
    "Locale",
    "get",
    "get_supported_locales",
    "load_gettext_translations",
    "load_translations",
    "set_default_locale",
]

#: What gettext puts between a message's context and the message (``msgctxt``).
CONTEXT_SEPARATOR = "\x04"

# The module's state, as in Tornado: the default locale, the translations of
# the last load_* call (a dict of CSV tables, or of gettext objects), and
# whether they came from gettext.
_default_locale = "en_US"
_translations: dict[str, Any] = {}
_supported_locales: frozenset[str] = frozenset([_default_locale])
_use_gettext = False

# A CSV file's name without ".csv": a language, optionally "_" and a region.
_CSV_LOCALE_NAME = re.compile(r"[a-z]+(_[A-Z]+)?")
_PLURAL_KINDS = ("plural", "singular", "unknown")
# Locales written right to left (Farsi, Arabic, Hebrew), by code prefix.
_RTL_PREFIXES = ("fa", "ar", "he")
# Locales whose clock has no am/pm (zh_CN has its own forenoon/afternoon words).
_TWELVE_HOUR_CODES = ("en", "en_US", "zh_CN")


def get(*locale_codes: str) -> Locale:
    """Return the supported locale that best matches ``locale_codes``.

    The codes are tried in order; the first one that is supported exactly
    (``es_LA``), or whose language alone is (``es`` for ``es_LA``), wins.
    When none matches, the default locale (`set_default_locale`) is
    returned. Codes may use ``-`` (``pt-BR``) and any case.
    """
    return Locale.get_closest(*locale_codes)


def set_default_locale(code: str) -> None:
    """Make ``code`` the default locale: the language the messages are written in.

    The default locale needs no translation file, is always supported, and
    is what `get` returns when nothing else matches.
    """
    global _default_locale, _supported_locales
    _default_locale = code
    _supported_locales = frozenset(list(_translations) + [code])
    Locale._cache.clear()


def get_supported_locales() -> Iterable[str]:
    """Return the codes of the loaded translations and of the default locale."""
    return _supported_locales


def _csv_encoding(path: str) -> str:
    """The encoding of a translation file: UTF-16 with its byte-order mark, else UTF-8.

    A UTF-8 byte-order mark (which Excel writes) is skipped.
    """
    with open(path, "rb") as f:
        start = f.read(2)
    if start in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return "utf-16"
    return "utf-8-sig"


def load_translations(directory: str, encoding: str | None = None) -> None:
    """Load translations from the ``LOCALE.csv`` files in ``directory``.

    Each file is named after its locale (``es_LA.csv``, ``fr.csv``) and read
    with the `csv` module's default (Excel) dialect. A row has two or three
    columns: the message, its translation, and optionally whether this is the
    ``singular`` or ``plural`` form (``unknown``, or nothing, when the
    message has a single form)::

        "Sign out","Cerrar sesión"
        "%(name)s liked this","A %(name)s les gustó esto","plural"
        "%(name)s liked this","A %(name)s le gustó esto","singular"

    Without ``encoding``, each file is read as UTF-16 if it starts with a
    UTF-16 byte-order mark and as UTF-8 (with or without a byte-order mark)
    otherwise. Cells are stripped of surrounding white space.

    The translations replace any loaded before. A file whose name is not a
    locale code, a row with an unknown plural indicator, and a file that
    cannot be decoded are logged as errors (naming the file and line) and
    skipped.

    .. note:: embedtornado differs from Tornado 6.6.1: the encoding is
       detected for each file (Tornado uses the first file's for all), a
       file name with more than one dot is logged and skipped (Tornado
       raises `ValueError`), and a file that cannot be decoded is logged
       and skipped (Tornado raises `UnicodeDecodeError`).
    """
    import csv

    global _translations, _supported_locales, _use_gettext
    translations: dict[str, dict[str, dict[str, str]]] = {}
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".csv"):
            continue
        full_path = os.path.join(directory, name)
        code = name[: -len(".csv")]
        if not _CSV_LOCALE_NAME.fullmatch(code):
            gen_log.error("Unrecognized locale %r (path: %s)", code, full_path)
            continue
        table: dict[str, dict[str, str]] = {}
        try:
            with open(full_path, encoding=encoding or _csv_encoding(full_path)) as f:
                reader = csv.reader(f)
                for row in reader:
                    if len(row) < 2:
                        continue
                    cells = [cell.strip() for cell in row]
                    message, translation = cells[0], cells[1]
                    plural = (cells[2] if len(cells) > 2 else "") or "unknown"
                    if plural not in _PLURAL_KINDS:
                        gen_log.error("Unrecognized plural indicator %r in %s line %d",
                                      plural, name, reader.line_num)
                        continue
                    table.setdefault(plural, {})[message] = translation
        except (UnicodeError, csv.Error) as e:
            gen_log.error("Cannot read translations from %s: %s", full_path, e)
            continue
        translations[code] = table
    _translations = translations
    _use_gettext = False
    _supported_locales = frozenset(list(translations) + [_default_locale])
    Locale._cache.clear()
    gen_log.debug("Supported locales: %s", sorted(_supported_locales))


def load_gettext_translations(directory: str, domain: str) -> None:
    """Load gettext translations: ``DIRECTORY/LANG/LC_MESSAGES/DOMAIN.mo`` for each language.

    The ``.mo`` files are compiled from ``.po`` files with the usual tools::

        xgettext --language=Python --keyword=_:1,2 --keyword=pgettext:1c,2 \\
            --keyword=pgettext:1c,2,3 -d mydomain handlers.py templates/*.html
        msgmerge old.po mydomain.po > new.po
        msgfmt new.po -o translations/pt_BR/LC_MESSAGES/mydomain.mo

    The translations replace any loaded before. A ``.mo`` file that gettext
    cannot read is logged as an error and skipped.
    """
    import gettext
    import glob

    global _translations, _supported_locales, _use_gettext
    translations: dict[str, gettext.NullTranslations] = {}
    pattern = os.path.join(directory, "*", "LC_MESSAGES", domain + ".mo")
    for path in sorted(glob.glob(pattern)):
        lang = os.path.basename(os.path.dirname(os.path.dirname(path)))
        try:
            translations[lang] = gettext.translation(domain, directory, languages=[lang])
        except Exception as e:
            gen_log.error("Cannot load translation for '%s': %s", lang, e)
    _translations = translations
    _use_gettext = True
    _supported_locales = frozenset(list(translations) + [_default_locale])
    Locale._cache.clear()
    gen_log.debug("Supported locales: %s", sorted(_supported_locales))


class Locale:
    """A locale: its code and name, translations, and formatting of dates, lists and numbers.

    Get one with `get` (or `Locale.get_closest`); each code has one `Locale`
    object, made on first use. Subclasses implement `translate` and
    `pgettext`: `CSVLocale` for `load_translations`, `GettextLocale` for
    `load_gettext_translations`.

    Attributes: ``code`` (``"es_LA"``), ``name`` (the language's own name,
    ``"Español"``, or ``"Unknown"``) and ``rtl`` (written right to left).
    """

    # One object per code; emptied when translations or the default change.
    _cache: dict[str, Locale] = {}

    @classmethod
    def get_closest(cls, *locale_codes: str) -> Locale:
        """Return the supported locale that best matches ``locale_codes`` (see `get`)."""
        supported = _supported_locales
        for code in locale_codes:
            if not code:
                continue
            parts = code.replace("-", "_").split("_")
            if len(parts) > 2:
                continue
            language = parts[0].lower()
            if len(parts) == 2:
                code = language + "_" + parts[1].upper()
            else:
                code = parts[0]
            if code in supported:
                return cls.get(code)
            if language in supported:
                return cls.get(language)
        return cls.get(_default_locale)

    @classmethod
    def get(cls, code: str) -> Locale:
        """Return the `Locale` for ``code``, which must be supported.

        .. note:: embedtornado differs from Tornado 6.6.1: an unsupported
           code raises `ValueError` naming it (Tornado fails an ``assert``).
        """
        locale = cls._cache.get(code)
        if locale is None:
            if code not in _supported_locales:
                raise ValueError(
                    f"locale {code!r} is not supported (supported: "
                    f"{', '.join(sorted(_supported_locales))})"
                )
            translations = _translations.get(code)
            if translations is None:
                locale = CSVLocale(code, {})
            elif _use_gettext:
                locale = GettextLocale(code, translations)
            else:
                locale = CSVLocale(code, translations)
            cls._cache[code] = locale
        return locale

    def __init__(self, code: str) -> None:
        self.code = code
        self.name = LOCALE_NAMES.get(code, {}).get("name", "Unknown")
        self.rtl = code.startswith(_RTL_PREFIXES)
        # Month and weekday names, translated once (format_date and format_day).
        _ = self.translate
        self._months = [
            _("January"), _("February"), _("March"), _("April"), _("May"), _("June"),
            _("July"), _("August"), _("September"), _("October"), _("November"),
            _("December"),
        ]
        self._weekdays = [
            _("Monday"), _("Tuesday"), _("Wednesday"), _("Thursday"), _("Friday"),
            _("Saturday"), _("Sunday"),
        ]

    def translate(
        self, message: str, plural_message: str | None = None, count: int | None = None
    ) -> str:
        """Return ``message`` translated into this locale.

        With ``plural_message``, ``count`` must be given too: the plural form
        is used when ``count`` is not 1, the singular one when it is.
        """
        raise NotImplementedError()

    def pgettext(
        self,
        context: str,
        message: str,
        plural_message: str | None = None,
        count: int | None = None,
    ) -> str:
        """`translate` with a context that tells apart messages spelled alike.

        Contexts need gettext translations (`GettextLocale`)::

            locale.pgettext("law", "right")
            locale.pgettext("organization", "club", "clubs", len(clubs))
        """
        raise NotImplementedError()

    def format_date(
        self,
        date: int | float | datetime.datetime,
        gmt_offset: int = 0,
        relative: bool = True,
        shorter: bool = False,
        full_format: bool = False,
    ) -> str:
        """Format a date in the past for people: ``"2 minutes ago"``, ``"yesterday at 3:12 pm"``.

        :arg date: a POSIX timestamp or a `datetime.datetime` (a naive one
            is taken as UTC).
        :arg gmt_offset: the reader's time zone, in minutes *west* of UTC
            (JavaScript's ``Date.getTimezoneOffset()``).
        :arg relative: ``False`` gives an absolute date instead of "N
            minutes ago" and "yesterday".
        :arg shorter: leave the time of day out of absolute forms.
        :arg full_format: always ``"July 10, 1980 at 9:15 am"`` (with the year).

        Dates in the future are written in full, except in relative mode
        less than a minute ahead (clock skew), which counts as now.
        """
        utc = datetime.timezone.utc
        if isinstance(date, (int, float)):
            date = datetime.datetime.fromtimestamp(date, utc)
        if date.tzinfo is None:
            date = date.replace(tzinfo=utc)
        now = datetime.datetime.now(utc)
        if date > now:
            if relative and (date - now).total_seconds() < 60:
                date = now
            else:
                full_format = True
        offset = datetime.timedelta(minutes=gmt_offset)
        local_date = date - offset
        local_yesterday = now - offset - datetime.timedelta(hours=24)
        difference = now - date
        seconds = difference.seconds
        days = difference.days

        _ = self.translate
        template = None
        if not full_format:
            if relative and days == 0:
                if seconds < 50:
                    return _("1 second ago", "%(seconds)d seconds ago", seconds) % {
                        "seconds": seconds}
                if seconds < 50 * 60:
                    minutes = round(seconds / 60.0)
                    return _("1 minute ago", "%(minutes)d minutes ago", minutes) % {
                        "minutes": minutes}
                hours = round(seconds / 3600.0)
                return _("1 hour ago", "%(hours)d hours ago", hours) % {"hours": hours}
            if days == 0:
                template = _("%(time)s")
            elif days == 1 and relative and local_date.day == local_yesterday.day:
                template = _("yesterday") if shorter else _("yesterday at %(time)s")
            elif days < 5:
                template = _("%(weekday)s") if shorter else _("%(weekday)s at %(time)s")
            elif days < 334:  # about 11 months: "May 3" must not mean last year's May
                template = (_("%(month_name)s %(day)s") if shorter
                            else _("%(month_name)s %(day)s at %(time)s"))
        if template is None:
            template = (_("%(month_name)s %(day)s, %(year)s") if shorter
                        else _("%(month_name)s %(day)s, %(year)s at %(time)s"))
        return template % {
            "month_name": self._months[local_date.month - 1],
            "weekday": self._weekdays[local_date.weekday()],
            "day": str(local_date.day),
            "year": str(local_date.year),
            "time": self._clock_time(local_date),
        }

    def _clock_time(self, moment: datetime.datetime) -> str:
        """The time of day as this locale writes it: ``3:07 pm``, ``15:07`` or ``下午3:07``."""
        hour, minute = moment.hour, moment.minute
        if self.code not in _TWELVE_HOUR_CODES:
            return "%d:%02d" % (hour, minute)
        hour12 = hour % 12 or 12
        if self.code == "zh_CN":
            return "%s%d:%02d" % ("\u4e0b\u5348" if hour >= 12 else "\u4e0a\u5348",
                                  hour12, minute)
        return "%d:%02d %s" % (hour12, minute, "pm" if hour >= 12 else "am")

    def format_day(self, date: datetime.datetime, gmt_offset: int = 0, dow: bool = True) -> str:
        """Format the day of ``date``: ``"Monday, January 22"``, or ``"January 22"`` with ``dow=False``.

        ``gmt_offset`` is in minutes west of UTC, as for `format_date`.
        """
        local_date = date - datetime.timedelta(minutes=gmt_offset)
        values = {
            "month_name": self._months[local_date.month - 1],
            "weekday": self._weekdays[local_date.weekday()],
            "day": str(local_date.day),
        }
        if dow:
            return self.translate("%(weekday)s, %(month_name)s %(day)s") % values
        return self.translate("%(month_name)s %(day)s") % values

    def list(self, parts: Any) -> str:
        """Join ``parts`` for reading: ``"A, B and C"``, ``"A and B"``, ``"A"`` or ``""``."""
        if len(parts) == 0:
            return ""
        if len(parts) == 1:
            return parts[0]  # type: ignore[no-any-return]
        separator = " \u0648 " if self.code.startswith("fa") else ", "
        return self.translate("%(commas)s and %(last)s") % {
            "commas": separator.join(parts[:-1]),
            "last": parts[len(parts) - 1],
        }

    def friendly_number(self, value: int) -> str:
        """Write an integer with thousands separators in English (``1,000,000``), plainly otherwise."""
        if self.code not in ("en", "en_US"):
            return str(value)
        digits = str(value)
        groups = []
        while digits:
            groups.append(digits[-3:])
            digits = digits[:-3]
        return ",".join(reversed(groups))


class CSVLocale(Locale):
    """A locale translated by the tables `load_translations` read from CSV files.

    ``translations`` maps ``"plural"``, ``"singular"`` and ``"unknown"`` to
    ``{message: translation}``.
    """

    def __init__(self, code: str, translations: dict[str, dict[str, str]]) -> None:
        self.translations = translations
        super().__init__(code)

    def translate(
        self, message: str, plural_message: str | None = None, count: int | None = None
    ) -> str:
        if plural_message is None:
            table = self.translations.get("unknown", {})
        else:
            if count is None:
                raise TypeError("translate() needs count with plural_message")
            if count != 1:
                message = plural_message
                table = self.translations.get("plural", {})
            else:
                table = self.translations.get("singular", {})
        return table.get(message, message)

    def pgettext(
        self,
        context: str,
        message: str,
        plural_message: str | None = None,
        count: int | None = None,
    ) -> str:
        """`translate`, ignoring ``context``: CSV files have no contexts (a warning is logged)."""
        if self.translations:
            gen_log.warning("pgettext is not supported by CSVLocale")
        return self.translate(message, plural_message, count)


class GettextLocale(Locale):
    """A locale translated by a `gettext` translations object (`load_gettext_translations`)."""

    def __init__(self, code: str, translations: gettext.NullTranslations) -> None:
        # Locale.__init__ translates the month names, so these come first.
        self.ngettext = translations.ngettext
        self.gettext = translations.gettext
        super().__init__(code)

    def translate(
        self, message: str, plural_message: str | None = None, count: int | None = None
    ) -> str:
        if plural_message is None:
            return self.gettext(message)
        if count is None:
            raise TypeError("translate() needs count with plural_message")
        return self.ngettext(message, plural_message, count)

    def pgettext(
        self,
        context: str,
        message: str,
        plural_message: str | None = None,
        count: int | None = None,
    ) -> str:
        # gettext stores a message with a context as "context\x04message"; an
        # untranslated one comes back with the separator still in it.
        prefix = context + CONTEXT_SEPARATOR
        if plural_message is None:
            result = self.gettext(prefix + message)
            return message if CONTEXT_SEPARATOR in result else result
        if count is None:
            raise TypeError("pgettext() needs count with plural_message")
        result = self.ngettext(prefix + message, prefix + plural_message, count)
        if CONTEXT_SEPARATOR in result:
            result = self.ngettext(message, plural_message, count)
        return result
