"""Text that matplotlib must draw as written: names and other strings from users and files.

matplotlib reads any text with a pair of ``$`` as mathtext: a condition named ``$x$`` is
drawn as an italic x, and one named ``$\\frac{$`` stops the plot with a ParseException
(after the stage may already have written its other outputs). Every string that comes from
a config, a command line or a results file goes through :func:`literal` where it is drawn;
the plots' own labels keep their intended mathtext (``p$^l$``).
"""

from __future__ import annotations


def literal(text: object) -> str:
    """``str(text)`` with every ``$`` escaped, so matplotlib draws it character for character
    (an escaped ``\\$`` is drawn as ``$`` and never starts math mode)."""
    return str(text).replace("$", r"\$")
