"""Numbers as a report prints them: rounded to what their standard error supports, or as published."""

import decimal
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


def published(value, se=None, decimals=0):
    """'1.14 ± 0.01', '0.00 ± 0.00', '0.00078': a published number at its published precision; '—' when missing.

    A float keeps no trailing zeros, so `decimals` is the source's own number of decimal places (Gal's table:
    2); more are shown when the value or its error has more digits, so nothing is rounded, and a nonzero
    value never shows as 0.
    """
    if not _finite(value):
        return "—"
    shown = [value] + ([se] if _finite(se) else [])
    places = max([decimals] + [decimal_places(v) for v in shown])
    return " ± ".join(f"{v:.{places}f}" for v in shown)


def decimal_places(value):
    """Decimal places of the shortest text that reads back as `value`: 0.00078 -> 5, 2.9 -> 1, 3.0 -> 0."""
    exponent = decimal.Decimal(repr(float(value))).normalize().as_tuple().exponent
    return max(0, -exponent)


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


def standard_error_key(metrics, key):
    """The key of `key`'s standard error in the same metrics (a zoo card's): `k_se`, or `iwae_5000_se` for
    `iwae_5000_nll`; None when `metrics` holds no number under either."""
    candidates = [f"{key}_se"] + [key[: -len(s)] + "_se" for s in ("_nll", "_log_likelihood") if key.endswith(s)]
    return next((c for c in candidates if _finite(metrics.get(c))), None)


def with_standard_error(metrics, key, significant=4):
    """`metrics[key]` as text: with its standard error where `metrics` holds one (`pm`), else `plain`."""
    se_key = standard_error_key(metrics, key)
    return pm(metrics.get(key), metrics[se_key]) if se_key else plain(metrics.get(key), significant)


def proportion(successes, n):
    """(p, standard error) of a proportion."""
    p = successes / n
    return p, math.sqrt(max(p * (1 - p), 1e-12) / n)
