"""Holidays read from iCalendar files."""

from datetime import date

import pytest

from sla.ical import ICalError, parse_holidays


def ics(*events: str) -> bytes:
    body = "".join(f"BEGIN:VEVENT\r\n{e.strip()}\r\nEND:VEVENT\r\n" for e in events)
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n{body}END:VCALENDAR\r\n".encode()


def dates(data: bytes, years=range(2025, 2027)) -> list[tuple[date, str]]:
    return [(h.date, h.name) for h in parse_holidays(data, time_zone="Europe/Paris", years=years)]


def test_all_day_events_and_several_days():
    data = ics("DTSTART;VALUE=DATE:20250501\r\nSUMMARY:Fête du travail",
               "DTSTART;VALUE=DATE:20251224\r\nDTEND;VALUE=DATE:20251227\r\nSUMMARY:Fermeture\\, Noël")
    assert dates(data) == [(date(2025, 5, 1), "Fête du travail"), (date(2025, 12, 24), "Fermeture, Noël"),
                           (date(2025, 12, 25), "Fermeture, Noël"), (date(2025, 12, 26), "Fermeture, Noël")]


def test_timed_events_take_their_local_date_and_folded_lines():
    data = ics("DTSTART:20250714T230000Z\r\nDTEND:20250715T010000Z\r\nSUMMARY:Fête\r\n  nationale",
               "DTSTART;TZID=America/New_York:20251127T200000\r\nSUMMARY:Thanksgiving")
    # 23:00 UTC is 01:00 in Paris on the 15th; 20:00 in New York is 02:00 in Paris on the 28th.
    assert dates(data) == [(date(2025, 7, 15), "Fête nationale"), (date(2025, 11, 28), "Thanksgiving")]


def test_yearly_rules_are_expanded_over_the_years_asked():
    data = ics("DTSTART;VALUE=DATE:20200101\r\nRRULE:FREQ=YEARLY\r\nSUMMARY:Jour de l'an")
    assert dates(data, years=range(2025, 2028)) == [
        (date(2025, 1, 1), "Jour de l'an"), (date(2026, 1, 1), "Jour de l'an"), (date(2027, 1, 1), "Jour de l'an")]


def test_cancelled_and_out_of_range_events_are_skipped():
    data = ics("DTSTART;VALUE=DATE:20250101\r\nSTATUS:CANCELLED\r\nSUMMARY:Annulé",
               "DTSTART;VALUE=DATE:20300101\r\nSUMMARY:Trop loin")
    assert dates(data) == []


@pytest.mark.parametrize("data", [b"hello", b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:2025xx\r\nEND:VEVENT\r\n",
                                  b"BEGIN:VCALENDAR\r\n" + b"X" * (1024 * 1024 + 1)])
def test_bad_files(data):
    with pytest.raises(ICalError):
        parse_holidays(data, time_zone="Europe/Paris", years=range(2025, 2026))
