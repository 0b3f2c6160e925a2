"""Numbers as a report prints them (`tfvb._numbers`, where the zoo's terminal cards also read them)."""

from tfvb._numbers import decimal_places, decimals_for, plain, pm, proportion, published, seconds

__all__ = ["decimal_places", "decimals_for", "plain", "pm", "proportion", "published", "seconds"]
