"""Numbers as a report prints them: rounded to what their standard error supports."""

import math


def _finite(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def decimals_for(se):
    """Decimal places that keep one significant digit of `se` (two when it starts with a 1)."""
    exponent = math.floor(math.log10(se))
    lead = se / 10 ** exponent
    places = -exponent + (1 if round(lead, 6) < 2 else 0)
    return places


def pm(value, se):
    """'97.4 ± 0.7': the value rounded to its standard error's precision; '—' when missing."""
    if not _finite(value):
        return "—"
    if not _finite(se) or se <= 0:
        return plain(value)
    places = decimals_for(se)
    shown = round(value, places)
    se_shown = round(se, places)
    if places <= 0:
        return f"{shown:.0f} ± {se_shown:.0f}"
    return f"{shown:.{places}f} ± {se_shown:.{places}f}"


def plain(value, significant=4):
    """A number without a standard error: at most `significant` significant digits."""
    if value is None:
        return "—"
    if isinstance(value, bool) or isinstance(value, int):
        return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)
    if not _finite(value):
        return "—"
    return f"{value:.{significant}g}"


def seconds(value):
    """A wall time: '7 s', '12 min', '2.5 h'."""
    if not _finite(value):
        return "—"
    if value < 120:
        return f"{value:.0f} s"
    if value < 7200:
        return f"{value / 60:.0f} min"
    return f"{value / 3600:.1f} h"


def proportion(successes, n):
    """(p, standard error) of a proportion."""
    p = successes / n
    return p, math.sqrt(max(p * (1 - p), 1e-12) / n)
