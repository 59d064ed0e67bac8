"""Pure-Python PTB tokenizer, token for token as pycocoevalcap runs Stanford's.

pycocoevalcap joins every caption with "\\n", runs CoreNLP 3.4.1's PTBTokenizer with
`-preserveLines -lowerCase` over the whole file, then drops punctuation tokens. This module
reproduces that pipeline without Java. The lexer is a longest-match scanner (JFlex semantics:
the longest match wins, trailing context counts toward its length, ties go to the earlier
rule) over rules rebuilt from the jar's observed behaviour. Because the stream is one file, a
caption's last token can depend on the next caption ("Inc." followed by an upper-case letter
gets an extra "."), so `tokenize_corpus` keeps that context.

This module tokenizes the text it is given, as Java would. Tarsier's CIDEr lower-cases every
caption with Python's `str.lower()` first: that step belongs to the caption pipeline
(`cider.tokenize_captions`), not to the tokenizer.

Character classes come from the jar, not from `unicodedata`: its lexer tables date from an
older Unicode, and they must not change with the Python version.
"""

from __future__ import annotations

import re
import warnings
from functools import lru_cache
from typing import Callable, Hashable, Iterable

__all__ = ["PUNCTUATIONS", "LineBreakWarning", "tokenize", "tokenize_corpus", "tokenize_lines"]

# pycocoevalcap drops these tokens. The upper-case brackets never match after -lowerCase.
PUNCTUATIONS = frozenset(
    ["''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-", "--", "...", ";"]
)
# Java ends a line at these, which shifts every later caption onto the wrong id.
_LINE_BREAK_RE = re.compile("[\r\x0b\x0c\u2028\u2029]")


class LineBreakWarning(UserWarning):
    """A caption held a character that the Java tokenizer would treat as a line break."""


# ---------------------------------------------------------------------------------------------
# Character classes measured on the jar. Each run is "<gap>,<count>" (consecutive code points)
# or "<gap>.<count>" (every other one), base 36, gap counted from the previous run's last point.
_DIGIT = (
    "1c,a 17r,a 3r,a 5j,a bh,a 3b,a 3b,a 3b,a 3b,a 3b,a 3b,a 3b,a 3b,a 69,a 3b,a 1z,a 7r,a "
    "1z,a 1fr,a 13,a 8d,a 3l,a 4n,a 7,a 53,a 2f,a 3r,a 7,a r7r,a iv,a 13,a 5j,a 3b,a bb,a "
    "gev,a "
)
# Letters of the lexer's WORD (JFlex [:letter:] plus its hand-listed marks, _MARKS).
_LETTER = (
    "1t,q 7,q 1c,1 b,1 5,1 6,n 2,v 2,hy 7,3 2,3 2.2 1,j 2,67 2,5 3,4e a,12 3,7 2,13 a,19 2.2 "
    "1.2 1.2 9,r 6,3 z,6 6,1r g,2u 2,r b,6 g,4j p,18 5,1 6,m 5,1 a,1 4,1 o,p 20.2 1,a 2c,1m "
    "3,j 2,6 3,c e,7 2,7 2,3 2,8 3,2 3,m 2,7 2,1 4,4 3,9 3,2 3,4 9,1 5,2 2,5 d,2 g,3 2,6 5,2 "
    "3,m 2,7 2,2 2,2 2,2 3.2 1,h a,4 2,1 k,3 d,3 2,9 2,3 2,m 2,7 2,2 2,5 3,l g,2 10,8 3,2 3,m "
    "2,7 2,2 2,5 4,1 v,2 2,3 g,1 h,2 2,6 4,3 2,4 4,2 2.2 1,1 4,2 4,3 4,c 5,5 4,3 2,4 3,1 1d,3 "
    "2,8 2,3 2,n 2,a 2,5 4,q 2,2 7,2 10,8 2,3 2,n 2,a 2,5 4,1 x.2 1,1 g,2 j,8 2,3 2,15 3,8 "
    "2,3 6,1 i,2 p,6 6,i 4,o 2,9 2,1 3,7 1n,1m 6,f 1f,2 2,1 3,2 2,1 3,1 7,4 2,7 2,3 2.2 3,2 "
    "2,h 3,5 2.2 1,5 f,4 x,1 1s,8 2,10 s,5 38,17 l,1 h,6 5,4 4,1 4,2 8,3 5,d d,1 i,12 2,1 6,1 "
    "3,17 2,99 2,4 3,7 2.2 1,3 3,15 2,4 3,x 2,4 3,7 2.2 1,3 3,f 2,1l 2,4 3,1v 12,g h,2d d,h8 "
    "3,h 2,q 6,23 m,d 2,4 f,i f,i f,d 2,3 g,1g 10,1 5,1 1w,2g 9,15 2,1 6,1y b,t 1g,u 3,5 c,18 "
    "m,7 1l,n a,1h 2b,1 2m,1b i,7 1k,u e,2 b,18 r,10 16,3 b,10 30,4 2,4 4,2 a,5c 1t,7q 3,6 "
    "3,12 3,6 3,8 2.4 1,u 3,1h 2,7 2,1 4,3 2,7 4,4 3,6 5,d 6,3 2,7 39,1 e,1 h,d 2u,1 5,1 3,a "
    "2,1 4,5 7.4 1,3 2,b 3,4 6,5 5,1 1h,2 22k,1b 2,1b 2,3p 7,4 4,2 d,12 2,1 6,1 3,1k 8,1 h,n "
    "a,7 2,7 2,7 2,7 2,7 2,7 2,7 2,7 29,1 d2,2 17,5 6,2 5,2e 7,3 2,2i 2,4 6,15 4,2m i,r 1i,g "
    "e9,52u 23,g5p 1g,wd 1w,1a 3,7h 4,g b,2 l,1b h,p 9,1y 1e,9 3,2v 3,4 2,4 d,b 26,a 2,3 2,4 "
    "2,n u,1g f,1e 1r,6 4,1 f,s b,n q,t 8,1b t,1 1d,15 o,3 2,8 l,n 4,1 6,1c 2,1 4,2 3,5 3.2 "
    "p,3 3,b 8,3 d,6 3,6 3,6 a,7 2,7 42,z u,8mc d,n 5,1d 6it,a6 3,2y 13,7 d,5 6.2 1,9 2,d 2,5 "
    "2.2 1.2 1.2 1,2z y,a3 j,1s 3,1i 15,c 39,5 2,3r 11,q 7,q c,2h 4,6 3,6 3,6 3,3 "
)
_MARKS = (
    "jm,4 d,e 6,7 2.2 1,3k 6,1 3,2 b,2 35,1 3x,5 5v,6 1e,19 2.2 1.2 1.2 26,6 1d,k i,1 2u,f "
    "3,7 g,2 h.2 v,t 2i,b 1n,9 7h,4 1l.2 1,g 3,5 d,2 u,3 1l.2 1,6 3,2 3,3 a,1 b,2 u,3 1l.2 "
    "1,h 1e,3 1l.2 1,h 4z,1 1o,5 4,3 2,4 1g,3 1n,p 6g,7 2,3 6h,1 3,7 d,8 2r,1 3,9 c,6 "
)
# JFlex [:uppercase:] (decides whether an abbreviation also ends the sentence).
_UPPER = (
    "1t,q 2u,n 2,7 y.s 3.8 3.o 1.3 4,2 2.2 1.2 1,2 3,4 2,2 2,3 4,2 2,2 2.3 1.2 3.2 1.2 1,2 "
    "2.2 1,1 4,1 8,1 3,1 3,1 3.8 3.9 3,1 3.2 1,2 2.t 8,2 2,2 3.2 1,3 2.4 82.2 4,1 g.2 1,2 2.2 "
    "1.2 1,g 2,9 10,1 3,3 4.c 6,1 3.2 1,1 3,1f 1d.h a.s 1.7 3.18 b,12 28a,12 2,1 6,1 2lv.23 "
    "a.1d a,8 9,6 b,8 9,8 9,6 c.4 9,8 21,4 d,4 d,4 d,5 c,4 7b,1 5,1 4,3 3,3 3,1 4,5 7.4 1,3 "
    "3,4 b,2 6,1 r,g k,1 mr,q 1f5,1b 1e.2 1,2 3.4 1,3 2,1 3,1 9,3 2.1d 9.2 5,1 nym.n k.c 3w.7 "
    "4.v b.3 1.5 5.2 3.2 e.6 h9z,q "
)
# Characters that stand alone as a one-character token (the lexer's symbol classes).
_SYMBOLS = (
    "!#-'*-/:-?\\\\^-`|~\u00a1\u00a5-\u00a9\u00ac\u00ae-\u00b4\u00b6-\u00b9\u00bf\u00d7\u00f7"
    "\u037e\u0387\u0589\u05be\u05c0\u05c3\u05c6\u05f3\u05f4\u0600-\u0603\u0606-\u060c\u0614"
    "\u061b\u061e\u061f\u066a\u066d\u06d4\u0700-\u070d\u07f6-\u07f8\u0964\u0965\u0e3f\u0e4f"
    "\u1fbd\u2016\u2017\u201a\u201e-\u2023\u2030-\u2038\u203b\u203e-\u2042\u2044\u2070"
    "\u2074-\u207e\u2080-\u208e\u20a4\u2100\u2101\u2103-\u2106\u2108\u2109\u2114\u2116-\u2118"
    "\u211e-\u2123\u2125\u2127\u2129\u212e\u213a\u213b\u2140-\u2144\u214a-\u214d\u214f"
    "\u2155-\u215e\u2190-\u2bff\u3001\u3002\u3012\u30fb\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40"
    "\uff5b-\uff65\uffe0\uffe1\uffe5\uffe6"
)


def _decode(runs: str) -> list[int]:
    points, last = [], 0
    for item in runs.split():
        step = 2 if "." in item else 1
        gap, count = (int(x, 36) for x in item.replace(".", ",").split(","))
        first = last + gap
        points.extend(range(first, first + step * count, step))
        last = points[-1]
    return points


def _cls(points: Iterable[int]) -> str:
    """Body of a regex character class for the given code points."""
    out, pts = [], sorted(set(points))
    i = 0
    while i < len(pts):
        j = i
        while j + 1 < len(pts) and pts[j + 1] == pts[j] + 1:
            j += 1
        out.append(f"\\u{pts[i]:04x}" if i == j else f"\\u{pts[i]:04x}-\\u{pts[j]:04x}")
        i = j + 1
    return "".join(out)


_DIGIT_PTS = _decode(_DIGIT)
_LETTER_PTS = _decode(_LETTER)
_JLETTER_PTS = sorted(set(_LETTER_PTS) - set(_decode(_MARKS)))

# ---------------------------------------------------------------------------------------------
# Macros (regex source). The lexer is caseless for literal text but not for character
# classes: "(?i:...)" below marks such literals, and _caseless turns each ASCII letter in it
# into a class like [xX] (Python's IGNORECASE flag would fold the classes too).
D = f"[{_cls(_DIGIT_PTS)}]"
JL = f"[{_cls(_JLETTER_PTS)}]"  # [:letter:]
JLD = f"[{_cls(_JLETTER_PTS + _DIGIT_PTS)}]"  # [:letter:]|[:digit:]
SPLET = "&[aeiouAEIOU](?i:acute|grave|uml);"
LETTER = f"(?:[{_cls(_LETTER_PTS)}\\u00ad]|{SPLET})"
LETDIG = f"(?:[{_cls(_LETTER_PTS + _DIGIT_PTS)}\\u00ad]|{SPLET})"
UPPER = f"[{_cls(_decode(_UPPER))}]"
SP = " \\t\\u00a0\\u2000-\\u200a\\u3000"
SPACE = f"[{SP}]"
NLS = "\\n\\r\\u2028\\u2029\\x0b\\x0c\\x85"
SPACENL = f"[{SP}{NLS}]"
NAME = "[A-Za-z][A-Za-z0-9_:.\\-]*"
SGML = (
    f"<(?:[!?][A-Za-z\\-][^>\\r\\n]*"
    f"|{NAME}(?: +(?:{NAME} *= *(?:'[^']*'|\"[^\"]*\")|{NAME}))* */?"
    f"|/{NAME}) *>"
)
APOS = "(?:['\\u0092\\u2019]|(?i:&apos;))"
APOSETC = "(?:['`\\u0091\\u0092\\u2018\\u2019\\u201b]|(?i:&apos;))"
HYPHEN = "[\\-_\\u058a\\u2010\\u2011]"
WORD = f"{LETTER}{LETDIG}*(?:[.!?]{LETTER}{LETDIG}*)*"
REDAUX = f"{APOS}(?:[msdMSD]|(?i:re|ve|ll))"
SWORD = "[A-Za-z\\u00ad]*[A-MO-Za-mo-z]\\u00ad*"
SREDAUX = f"(?i:n){APOSETC}(?i:t)"
NUM = f"{D}*(?:[.:,\\u00ad\\u066b\\u066c]{D}+)+|{D}+"
ACRO_ALTS = [
    "[A-Za-z](?:\\.[A-Za-z])*",
    "(?i:canada|sino|korean|eu|japan|non)-(?i:u\\.s)",
    "(?i:u\\.s\\.-)(?:(?i:u\\.k)|(?i:u\\.s\\.s\\.r))",
]
ACRO = "|".join(ACRO_ALTS)
QUOTE_CHARS = "`\\u2018\\u2019\\u201a\\u201b\\u201c\\u201d\\u0091-\\u0094\\u201e\\u201f\\u2039\\u203a\\u00ab\\u00bb"
EMAIL_OUT = ' \\t\\n\\f\\r"<>|(){}\\u00a0'
EMAIL = (
    f"(?:<|(?i:&lt;))?[a-zA-Z0-9][^{EMAIL_OUT}]*@(?:[^{EMAIL_OUT}.]+\\.)*[^{EMAIL_OUT}.]+(?:>|(?i:&gt;))?"
)
FILE_EXT = (
    "bat|bmp|c|class|cgi|cpp|dll|doc|docx|exe|gif|gz|h|htm|html|jar|java|jpeg|jpg|mov|mp3|pdf|php"
    "|pl|png|ppt|ps|py|sql|tar|txt|wav|x|xml|zip"
)
URL_END = "[^ \\t\\n\\f\\r\"<>|.!?(){},\\-]"


def _words(spec: str) -> str:
    """'Jan|[A]rk' -> caseless alternatives; a bracketed class stays case-sensitive."""
    return "(?:" + "|".join(f"(?i:{w})" for w in spec.split("|")) + ")"


# JFlex's caseless match, like Python's, also takes these for i, s and k.
_FOLDS = {"i": "\\u0130\\u0131", "s": "\\u017f", "k": "\\u212a"}


def _caseless(pattern: str) -> str:
    """Expand each (?i:...) group: ASCII letters outside classes and escapes become [xX]."""
    out, i, depth, in_class, n = [], 0, 0, False, len(pattern)
    while i < n:
        if depth == 0 and not in_class and pattern.startswith("(?i:", i):
            out.append("(?:")
            depth, i = 1, i + 4
            continue
        c = pattern[i]
        if c == "\\":
            size = {"u": 6, "x": 4}.get(pattern[i + 1], 2)
            out.append(pattern[i : i + size])
            i += size
            continue
        if in_class:
            in_class = c != "]" or pattern[i - 1] == "["
        elif c == "[":
            in_class = True
        elif depth and c == "(":
            depth += 1
        elif depth and c == ")":
            depth -= 1
        elif depth and c.isascii() and c.isalpha():
            c = f"[{c.lower()}{c.upper()}{_FOLDS.get(c.lower(), '')}]"
        out.append(c)
        i += 1
    return "".join(out)


ABBREV1 = _words(
    "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|Mon|Tue|Tues|Wed|Thu|Thurs|Fri"
    "|Ala|Ariz|[A]z|[A]rk|Calif|Colo|Conn|Ct|Dak|[D]el|Fla|Ga|[I]ll|Ind|Kans|Kan|Ky|[L]a|[M]ass|Md"
    "|Mich|Minn|[M]iss|Mo|Mont|Neb|Nev|Okla|[O]re|[P]a|Penn|Tenn|[T]ex|Va|Vt|[W]ash|Wisc|Wis|Wyo"
    "|Inc|Cos|Co|Corp|Pp?t[ye]s?|Ltd|Plc|Rt|Bancorp|Bhd|Assn|Univ"
    "|Intl|Sys|tel|est|ext|sq|Jr|Sr|Bros|Ed\\.D|Ph\\.D|Blvd|Rd|Esq|etc|al|seq|Bldg"
) + "\\."
ABTITLE = (
    "Mr|Mrs|Ms|[M]iss|Drs|Dr|Profs|Prof|Sens|Sen|Reps|Rep|Attys|Atty|Lt|Col|Gen|Messrs|Govs|Gov"
    "|Adm|Rev|Maj|Sgt|Cpl|Pvt|Capt|Ste|St|Ave|Pres|Lieut|Hon|Brig|Comdr|Cmdr|Pfc|Spc|Supts|Supt"
    "|Det|Mt|Ft|Adj|Adv|Asst|Assoc|Ens|Insp|Mlle|Mme|Msgr|Sfc"
)
ABBREV4_WORDS = _words(ABTITLE + "|vs|Alex|Wm|Jos|Cie|a\\.k\\.a|cf|TREAS|Ph|Invt|Elec|Natl|M[ft]g|Dept")
ABBREV4 = f"{ABBREV4_WORDS}|{ACRO}"
ABBREV3 = _words("ca|figs|fig|prop|nos|no|art|bldg|pp|op") + "\\."
ACRO_NEXT = "|".join(
    f"[{w[0]}](?i:{w[1:]})" if len(w) > 1 else w
    for w in (
        "About According Additionally After An A As At But Earlier He Her Here However If In It "
        "Last Many More Mr\\. Ms\\. Now Once One Other Our She Since So Some Such That The Their Then "
        "There These They This We When While What Yet You"
    ).split()
)
PHONE_TAIL = "[0-9]{3,4}[\\- \\u00a0]?[0-9]{3,5}"

# ---------------------------------------------------------------------------------------------
# Token transformations (the lexer's actions).


def _unsoft(t: str) -> str:
    t = t.replace("\u00ad", "")
    return t or "-"


_LATEX_MAPS = [
    (re.compile("[\u0091\u2018\u201b\u2039]"), "`"),
    (re.compile("[\u0092\u2019\u203a]"), "'"),
    (re.compile("[\u0093\u201c\u00ab]"), "``"),
    (re.compile("[\u0094\u201d\u00bb]"), "''"),
]
_LEFT = [(re.compile("&apos;|'"), "`"), (re.compile('"|&quot;'), "``")]
_RIGHT = [(re.compile("&apos;|'"), "'"), (re.compile('"|&quot;'), "''")]


def _quotes(t: str, left: bool) -> str:
    for rx, rep in (_LEFT if left else _RIGHT) + _LATEX_MAPS:
        t = rx.sub(rep, t)
    return t


def _currency(t: str) -> str:
    return re.sub("[\u0080\u00a4\u20a0\u20ac]", "$", t.replace("\u00a2", "cents").replace("\u00a3", "#"))


_FRACTIONS = {"\u00bc": "1/4", "\u00bd": "1/2", "\u00be": "3/4", "\u2153": "1/3", "\u2154": "2/3"}
_AMP = re.compile(_caseless("(?i:&amp;)"))


def _parens(t: str) -> str:
    return t.replace("(", "-LRB-").replace(")", "-RRB-")


# An action maps the matched text to (token or None, characters pushed back).
Action = Callable[[str], "tuple[str | None, int]"]


def _keep(t: str) -> tuple[str | None, int]:
    return t, 0


def _skip(t: str) -> tuple[str | None, int]:
    return None, 0


def _const(tok: str) -> Action:
    return lambda t: (tok, 0)


def _map(f: Callable[[str], str]) -> Action:
    return lambda t: (f(t), 0)


def _pushback(n: int) -> Action:
    return lambda t: (t[:-n], n)


def _dup_period(t: str) -> tuple[str | None, int]:
    return t, 1  # keep "Inc." and lex its period again


def _acronym(t: str) -> tuple[str | None, int]:
    return (t[:-1], 1) if len(t) == 2 else (t, 1)  # "I." -> "I" + "."; "U.S." -> "U.S." + "."


def _hyphens(t: str) -> tuple[str | None, int]:
    return ("--" if 3 <= len(t) <= 4 else t), 0



# ---------------------------------------------------------------------------------------------
# Rules in priority order: (characters a match can start with, alternatives, trailing context,
# action[, reach, needs]; see _Rule). Alternatives are matched separately and the longest kept,
# as JFlex would.

_C_WORD = _cls(_LETTER_PTS) + "\\u00ad&"
_C_ALNUM = "A-Za-z0-9"
_C_LATIN = "A-Za-z\\u0130\\u0131\\u017f\\u212a"  # caseless literals also match these
_C_JLD = _cls(_JLETTER_PTS + _DIGIT_PTS) + "'`\\u0091\\u0092\\u2018\\u2019\\u201b&"
_C_DIGIT = _cls(_DIGIT_PTS)
_C_APOS = "'\\u0092\\u2019&"
_C_ANY = None
_INSENTP = "[,;:\\u3001]"
_URL_PATH = f"(?:/[^ \\t\\n\\f\\r\"<>|()]+{URL_END})?"
# (an acronym after a hyphen: the hyphenated acronyms of ACRO would only shadow longer matches)
_HTHING = "[A-Za-z0-9][A-Za-z0-9.,\\u00ad]*(?:-(?:[A-Za-z](?:\\.[A-Za-z])+\\.|[A-Za-z0-9\\u00ad]+))+"
_THING = f"(?:[dDoOlL]{APOSETC}{JLD})?{JLD}+(?:{HYPHEN}(?:[dDoOlL]{APOSETC}{JLD})?{JLD}+)*"
_THINGA = "[A-Z]+(?:(?:(?i:&amp;)|[+&])[A-Z]+)+"
_CURRENCY = "\\u00a2\\u00a3\\u00a4\\u00a5\\u0080\\u20a0\\u20ac\\u060b\\u0e3f\\u20a4\\uffe0\\uffe1\\uffe5\\uffe6"
_SUBSUP = "\\u207a\\u207b\\u208a\\u208b\\u2070\\u00b9\\u00b2\\u00b3\\u2074-\\u2079\\u2080-\\u2089"
_SENT_PUNCT = ".\\u00a1\\u00bf\\u037e\\u0589\\u061f\\u06d4\\u0700-\\u0702\\u07fa\\u3002"
_SPACES_ETC = f"\\x00{SP}\\u200b\\u200e\\u200f\\ufeff"


def _right(t: str) -> str:
    return _quotes(t, False)


def _left(t: str) -> str:
    return _quotes(t, True)


def _amp(t: str) -> str:
    return _AMP.sub("&", t)


def _nbsp(t: str) -> str:
    return t.replace(" ", "\u00a0")


_RULES: list[tuple] = [
    ("cCfF", ["(?i:c\\+\\+|c#|f#)"], None, _keep),
    ("cC'", ["(?i:cannot|'twas)"], None, _pushback(3)),  # "can" "not"
    ("'gGlLwW", ["(?i:'tis|gonna|gotta|lemme|gimme|wanna)"], None, _pushback(2)),  # "gon" "na"
    ("<", [SGML], None, _map(_nbsp)),
    ("&\\u0096\\u0097\\u2013-\\u2015", ["(?i:&(?:md|mdash|ndash);)|[\\u0096\\u0097\\u2013-\\u2015]"], None,
     _const("--")),
    ("&", ["(?i:&amp;)"], None, _const("&")),
    ("&", ["(?i:&(?:ht|tl|ur|lr|qc|ql|qr|odq|cdq|#[0-9]+);)"], None, _keep),
    (_C_WORD, [WORD], REDAUX, _map(_unsoft)),  # "it" before "'s"
    ("A-Za-z\\u00ad", [SWORD], SREDAUX, _map(_unsoft)),  # "do" before "n't"
    (_C_WORD, [WORD], None, _map(_unsoft)),
    (
        _C_JLD,
        [
            f"{APOS}(?i:n){APOS}?",
            f"[lLdDjJ]{APOS}",
            f"(?i:dunkin|somethin|ol){APOS}",
            f"{APOS}(?i:em|cause|till?)",
            f"{APOS}[2-9]0(?i:s)",
            f"[A-HJ-XZn]{APOSETC}{JL}{{2}}{JL}*",
            f"{JL}+[aeiouyAEIOUY]{APOSETC}[aeiouA-Z]{JL}*",
            "(?i:cont'd\\.?|'twas|nor'easter|c'mon|e'er|s'mores|ev'ry|li'l|nat'l)",
            f"(?i:o){APOSETC}(?i:o)",
        ],
        None,
        _keep,
    ),
    ("yY", [f"(?i:y){APOS}"], JL, _keep),
    ("hH", [f"(?i:https?)://[^ \\t\\n\\f\\r\"<>|(){{}}]+{URL_END}"], None, _keep),
    (
        _C_ANY,
        [
            f"(?i:www)\\.(?:[^ \\t\\n\\f\\r\"<>|.!?(){{}},]+\\.)+[a-zA-Z]{{2,4}}{_URL_PATH}",
            f"(?:[^ \\t\\n\\f\\r\"`'<>|.!?(){{}},-_$]+\\.)+(?i:com|net|org|edu){_URL_PATH}",
        ],
        None,
        _keep,
        "[^ \\t\\n\\f\\r\"<>|()]*",
    ),
    (_C_ALNUM + "<&", [EMAIL], None, _keep, "", "@"),
    ("@#", ["@[a-zA-Z_][a-zA-Z_0-9]*", f"#{LETTER}+"], None, _keep),
    (_C_APOS, [REDAUX], "[^A-Za-z]", _map(_right)),
    ("nN", [SREDAUX], "[^A-Za-z]", _map(_right)),
    (_C_DIGIT, [f"{D}{{1,2}}[\\-/]{D}{{1,2}}[\\-/]{D}{{2,4}}"], None, _keep),
    (_C_DIGIT + "\\-+.:,\\u00ad\\u066b\\u066c", [f"[\\-+]?(?:{NUM})"], None, _map(_unsoft)),
    (_SUBSUP, ["[\\u207a\\u207b\\u208a\\u208b]?(?:[\\u2070\\u00b9\\u00b2\\u00b3\\u2074-\\u2079]+|[\\u2080-\\u2089]+)"],
     None, _keep),
    (_C_DIGIT, [f"(?:{D}{{1,4}}[\\- \\u00a0])?{D}{{1,4}}(?:\\\\?/|\\u2044){D}{{1,4}}"], None, _map(_nbsp)),
    ("\\u00bc\\u00bd\\u00be\\u2153-\\u215e", ["[\\u00bc\\u00bd\\u00be\\u2153-\\u215e]"], None,
     _map(lambda t: _FRACTIONS.get(t, t))),
    (
        "\\-cCpPaAsS\\u017f",
        [
            "-(?i:rrb|lrb|rcb|lcb|rsb|lsb)-",
            "(?i:c\\.d\\.s|pro-|anti-|s(?:&|&amp;)p-500|s(?:&|&amp;)ls)",
            f"(?i:cap){APOS}(?i:n)",
            f"(?i:c){APOS}(?i:est)",
        ],
        None,
        _map(_amp),
    ),
    (_C_ALNUM, ["[A-Za-z0-9]+(?:-[A-Za-z]+){0,2}(?:\\\\?/[A-Za-z0-9]+(?:-[A-Za-z]+){0,2}){1,2}"], None, _keep),
    ("A-Z$#", ["[A-Z]*\\$|#"], None, _keep),
    (_CURRENCY, [f"[{_CURRENCY}]"], None, _map(_currency)),
    (_C_LATIN, [f"(?:{a})\\." for a in ACRO_ALTS], f"{SPACENL}+(?:{ACRO_NEXT}|{SGML}){SPACENL}", _acronym),
    (_C_LATIN, [ABBREV3], f"{SPACENL}?{D}", _keep),  # "No. 5"
    ("pPcC", ["(?i:pt)[eyEY]\\.|(?i:co)\\."], f"{SPACE}(?i:ltd|lim)", _keep),  # "Pty. Ltd"
    (_C_LATIN, [ABBREV1], f"{SPACENL}(?:{SPACENL}|{UPPER}|{SGML})", _dup_period),
    (_C_LATIN, [ABBREV1], "[\\s\\S]{2}", _keep),
    (_C_LATIN, [ABBREV1], None, _dup_period),  # only at the very end of the file
    (_C_LATIN, [f"(?:{a})\\." for a in [ABBREV4_WORDS, *ACRO_ALTS]], None, _keep),
    (_C_LATIN, [ABBREV4_WORDS, *ACRO_ALTS], SPACE, _keep),
    (_C_LATIN, ACRO_ALTS, SPACENL, _keep),
    (_C_APOS, [f"{APOS}[0-9][0-9]"], SPACENL, _keep),
    (_C_WORD + _C_DIGIT, [f"{LETDIG}+(?:\\.{LETDIG}+)*\\.(?i:{FILE_EXT})"], f"{SPACENL}|[.?!,]", _keep),
    (_C_WORD, [f"{WORD}\\."], _INSENTP, _map(_unsoft)),
    (
        "(+0-9",
        [
            f"\\([0-9]{{2,3}}\\)[ \\u00a0]?{PHONE_TAIL}",
            f"(?:\\+\\+?)?[0-9]{{2,4}}[\\- \\u00a0][0-9]{{2,4}}[\\- \\u00a0]{PHONE_TAIL}",
            f"(?:\\+\\+?)?[0-9]{{2,4}}[\\- \\u00a0]{PHONE_TAIL}",
            "(?:(?:\\+\\+?)?[0-9]{2,4}\\.)?[0-9]{2,4}\\.[0-9]{3,4}\\.[0-9]{3,5}",
        ],
        None,
        _map(lambda t: _parens(_nbsp(t))),
        ".{0,24}",
    ),
    ('"&', ['"|(?i:&quot;)'], "[A-Za-z0-9$]", _map(_left)),
    ('"&', ['"|(?i:&quot;)'], None, _map(_right)),
    ("\\x7f", ["\\x7f"], None, _skip),
    ("<&", ["<|(?i:&lt;)"], None, _const("<")),
    (">&", [">|(?i:&gt;)"], None, _const(">")),
    ("<>:;=", ["[<>]?[:;=][\\-o*']?[()DPdpO\\\\{@|\\[\\]]"], "[^A-Za-z0-9]", _map(_parens)),  # smileys
    ("\\-^x=~<>'(", ["[\\-^x=~<>']_[\\-^x=~<>']", "\\([\\-^x=~<>'][_.]?[\\-^x=~<>']\\)"], None, _map(_parens)),
    ("{", ["\\{"], None, _const("-LCB-")),
    ("}", ["\\}"], None, _const("-RCB-")),
    ("\\[", ["\\["], None, _const("-LSB-")),
    ("\\]", ["\\]"], None, _const("-RSB-")),
    ("(", ["\\("], None, _const("-LRB-")),
    (")", ["\\)"], None, _const("-RRB-")),
    ("\\-", ["-+"], None, _hyphens),
    (".\\u0085\\u2026", ["\\.{3,5}", "(?:\\.[ \\u00a0]){2,4}\\.", "[\\u0085\\u2026]"], None, _const("...")),
    ("@#_", ["@+|#+|_+"], None, _keep),
    ("*\\\\", ["\\*+|(?:\\\\\\*){1,3}"], None, _keep),
    (",;:\\u3001", [_INSENTP], None, _keep),
    ("?!", ["[?!]+"], None, _keep),
    (_SENT_PUNCT, [f"[{_SENT_PUNCT}]"], None, _keep),
    ("=", ["="], None, _keep),
    ("/", ["/"], None, _keep),
    ("A-Za-z0-9", [f"{_HTHING}\\."], _INSENTP, _map(_unsoft)),
    ("A-Za-z0-9", [_HTHING], None, _map(_unsoft)),
    (_C_JLD, [f"{_THING}\\."], _INSENTP, _keep),
    (_C_JLD, [_THING], None, _keep),
    ("A-Z", [f"{_THINGA}\\."], _INSENTP, _map(_amp)),
    ("A-Z", [_THINGA], None, _map(_amp)),
    ("'", ["'"], "[A-Za-z][^ \\t\\n\\r\\u00a0]", _map(_left)),  # opening quote, usually
    (_C_APOS, [REDAUX], None, _map(_right)),
    (_C_APOS + QUOTE_CHARS, [APOS, "''", f"[{QUOTE_CHARS}]{{1,2}}"], None, _map(_right)),
    ("<>", ["<<|>>"], None, _keep),
    (_SYMBOLS, [f"[{_SYMBOLS}]"], None, _keep),
    (_SPACES_ETC, [f"\\x00|{SPACE}+|[\\u200b\\u200e\\u200f\\ufeff]"], None, _skip),
    ("&", ["(?i:&nbsp;)"], None, _skip),
]


class _Rule:
    __slots__ = ("first", "regexes", "has_ctx", "action", "reach", "needs")

    def __init__(self, first: str | None, alts: list[str], ctx: str | None, action: Action, reach: str = "",
                 needs: str = ""):
        self.first = None if first is None else re.compile(f"[{first}]")
        tail = f"(?=({ctx}))" if ctx else ""
        self.regexes = [re.compile(_caseless(f"(?:{a}){tail}")) for a in alts]
        self.has_ctx = ctx is not None
        self.action = action
        # Where Python's first match may not be the longest, the text a match could span
        self.reach = re.compile(reach) if reach else None
        self.needs = needs  # a character every match contains (a cheap test before the regex)


_COMPILED = [_Rule(*r) for r in _RULES]


@lru_cache(maxsize=None)
def _candidates(ch: str) -> tuple[_Rule, ...]:
    return tuple(r for r in _COMPILED if r.first is None or r.first.match(ch))


def _next_token(text: str, pos: int) -> tuple[str | None, int]:
    """Lex one token at pos: (token or None when skipped, position after it)."""
    best_total, best_end, best_rule = 0, 0, None
    for rule in _candidates(text[pos]):
        if rule.needs and text.find(rule.needs, pos) < 0:
            continue
        for rx in rule.regexes:
            m = rx.match(text, pos)
            if m is None:
                continue
            end = m.end()
            if rule.reach is not None:  # look for a longer match, longest first
                for e in range(rule.reach.match(text, pos).end(), end, -1):
                    if rx.fullmatch(text, pos, e):
                        end = e
                        break
            total = end - pos + (len(m.group(1)) if rule.has_ctx else 0)
            if total > best_total:
                best_total, best_end, best_rule = total, end, rule
    if best_rule is None:
        return None, pos + 1  # untokenizable: Java drops it (and logs a warning)
    tok, back = best_rule.action(text[pos:best_end])
    return tok, best_end - back


# A caption of plain words (the common case) tokenizes to its words, whatever follows it.
_PLAIN = re.compile(r" *([A-Za-z]+(?: +[A-Za-z]+)*)? *(\.?) *")
_PLAIN_SPLIT = {"cannot": "can not", "gonna": "gon na", "gotta": "got ta", "lemme": "lem me",
                "gimme": "gim me", "wanna": "wan na"}
_PLAIN_SPLIT_RE = re.compile(r"\b(?:cannot|gonna|gotta|lemme|gimme|wanna)\b")
_ABBREV_END = re.compile(_caseless(f"(?:{ABBREV1}|(?:{ABBREV4})\\.|{ABBREV3})"))


@lru_cache(maxsize=8192)
def _is_abbrev(word: str) -> bool:
    return _ABBREV_END.fullmatch(word + ".") is not None


def _plain(line: str) -> str | None:
    """Tokenized text of a plain caption, or None when the full lexer is needed."""
    m = _PLAIN.fullmatch(line)
    if m is None:
        return None
    body = m.group(1) or ""
    if m.group(2) and line[m.end(1) : m.end(1) + 1] == ".":
        last = body[body.rfind(" ") + 1 :]
        if len(last) < 3 or _is_abbrev(last):
            return None  # an abbreviation: its period depends on the next caption
    low = body.lower()
    if "  " in low:
        low = " ".join(low.split())
    if _PLAIN_SPLIT_RE.search(low):
        low = " ".join(_PLAIN_SPLIT.get(w, w) for w in low.split(" "))
    return low


# A plain word before a space, a comma or the end of the line can only lex as itself (no
# rule reaches past it), and so can such a comma: the shortcut for most tokens.
_SPACES = re.compile(f"{SPACE}+")
_SIMPLE = re.compile(r"([A-Za-z]+)(,?)(?=[ \n]|$)")


# Cased letters unknown to Java 17 (Unicode 13), which Python's newer tables know: Unicode 14
# (measured against Java), then 16 (Garay, a few Latin and Cyrillic letters). Java leaves
# them as they are and does not count them as letters.
_NEW_CAPITALS = re.compile(
    "[\u2c2f\ua7c0\ua7d0\ua7d6\ua7d8\U00010570-\U00010595"
    "\u1c89\ua7cb\ua7cc\ua7da\ua7dc\U00010d50-\U00010d65]"
)
_NEW_CASED = re.compile(
    "[\u2c2f\u2c5f\ua7c0\ua7c1\ua7d0\ua7d1\ua7d6-\ua7d9\U00010570-\U000105bc"
    "\u1c89\u1c8a\ua7cb-\ua7cd\ua7da-\ua7dc\U00010d50-\U00010d65\U00010d70-\U00010d85]"
)


def _lower(t: str) -> str:
    """Lower-case a token as Java's String.toLowerCase does."""
    if t.isascii():
        return t.lower()
    if "\u03a3" in t:
        return _java_lower(t)
    if _NEW_CAPITALS.search(t):
        return "".join(c if _NEW_CAPITALS.match(c) else c.lower() for c in t)
    return t.lower()


def _finish(tokens: list[str]) -> str:
    """Java prints the tokens lower-cased; pycocoevalcap then drops punctuation tokens."""
    line = " ".join(map(_lower, tokens))
    return " ".join(w for w in line.rstrip().split(" ") if w not in PUNCTUATIONS)


@lru_cache(maxsize=1)
def _word_break_rules() -> list[re.Pattern[str]]:
    """The JDK's word BreakIterator grammar, which Java's String.toLowerCase consults to decide
    whether a capital sigma ends a word (Python applies Unicode's simpler Final_Sigma rule)."""
    import unicodedata

    cats: dict[str, list[int]] = {}
    for cp in range(0x10000):
        cats.setdefault(unicodedata.category(chr(cp)), []).append(cp)

    def cl(*names: str, extra: str = "", minus: str = "") -> str:
        body = _cls(cp for n in names for cp in cats.get(n, []))
        return f"[{body}{extra}]" if not minus else f"(?:(?![{minus}])[{body}{extra}])"

    cjk = "\u3005\u4e00-\u9fa5\uf900-\ufa2d\u3099-\u309c\u30a1-\u30fe\u3041-\u309e\u30fc"
    let = cl("Lu", "Ll", "Lt", "Lm", "Lo", "Mc", minus=cjk)
    dgt = cl("Nd", "Nl", "No")
    word = f"{let}+(?:{cl('Pd', 'Pc', extra=chr(0xAD) + chr(0x2027) + chr(34) + chr(39) + '.')}{let}+)*[\u0964\u0965]?"
    number = f"{dgt}+(?:[\"',\u066b.]{dgt}+)*"
    tail = f"(?:{number}{word})*(?:{number}[%&\u00a2\u066a\u2030\u2031]?)?"
    pre = cl("Sc", extra="#.^\u00a2")
    return [
        re.compile(f"(?:{word})?{tail}"),
        re.compile(f"{pre}{tail}"),
        re.compile("[\u30a1-\u30fe\u3099-\u309c\u30fc]+"),
        re.compile("[\u3041-\u309e\u30fc]+"),
        re.compile("[\u3005\u4e00-\u9fa5\uf900-\ufa2d]+"),
    ]


def _java_lower(tok: str) -> str:
    """Lower-case like Java: a capital sigma becomes final only at the end of a BreakIterator
    word that has a cased letter before it."""
    import unicodedata

    idx, core, kind = [], [], ""
    for i, c in enumerate(tok):
        cat = unicodedata.category(c)
        if cat == "Cf" and c != "\u00ad":
            continue  # invisible to the iterator
        idx.append(i)
        if _NEW_CASED.match(c):
            core.append("\x00")
            kind = ""
        elif cat in ("Mn", "Me"):  # a mark continues the letter or digit before it
            core.append({"L": "\u0710", "N": "0"}.get(kind, "\x00"))
        else:
            core.append(c)
            kind = "L" if cat[0] == "L" or cat == "Mc" else cat[0]
    text = "".join(core)
    seg, pos = [0] * len(text), 0
    while pos < len(text):
        ends = [m.end() for rx in _word_break_rules() if (m := rx.match(text, pos))]
        end = max(ends + [pos + 1])
        seg[pos:end] = [pos] * (end - pos)
        pos = end
    cased = [(c.islower() or c.isupper() or c.istitle()) and not _NEW_CASED.match(c)
             for c in (tok[i] for i in idx)]
    out = [c if _NEW_CAPITALS.match(c) else c.lower() for c in tok]
    for k, i in enumerate(idx):
        if tok[i] == "\u03a3":
            same = [j for j in range(len(idx)) if seg[j] == seg[k]]
            final = any(cased[j] for j in same if j < k) and not any(cased[j] for j in same if j > k)
            out[i] = "\u03c2" if final else "\u03c3"
    return "".join(out)


def _join(lines: list[str]) -> str:
    """The file pycocoevalcap writes: captions joined by newlines (theirs made spaces)."""
    text = "\n".join(s.replace("\n", " ") for s in lines)
    found = len(_LINE_BREAK_RE.findall(text))
    if found:
        warnings.warn(
            f"{found} line-break character(s) (\\r, \\x0b, \\x0c, U+2028, U+2029) in the captions are "
            "tokenized as spaces; the Java tokenizer would end the line there and shift every "
            "later caption onto the wrong id",
            LineBreakWarning,
            stacklevel=3,
        )
        text = _LINE_BREAK_RE.sub(" ", text)
    return text


def tokenize_lines(lines: list[str]) -> list[str]:
    """Tokenize captions as one pycocoevalcap file (each caption is one line of it)."""
    text = _join(lines)
    out: list[str] = []
    cur: list[str] = []
    pos, n, line_start = 0, len(text), True
    while pos <= n:
        if line_start:
            end = text.find("\n", pos)
            plain = _plain(text[pos : n if end < 0 else end])
            if plain is not None:
                out.append(plain)
                pos = n + 1 if end < 0 else end + 1
                continue
            line_start = False
        if pos == n or text[pos] == "\n":
            out.append(_finish(cur))
            cur, pos, line_start = [], pos + 1, True
            continue
        if text[pos] == " ":  # a whole run of spaces is one (skipped) match
            pos = _SPACES.match(text, pos).end()
            continue
        m = _SIMPLE.match(text, pos)
        if m is not None and m.group(1).lower() not in _PLAIN_SPLIT:
            cur.append(m.group(1))
            if m.group(2):
                cur.append(m.group(2))
            pos = m.end()
            continue
        tok, pos = _next_token(text, pos)
        if tok is None:
            continue
        if "\n" in tok:  # an SGML tag spanning captions: Java prints it as is, newline and all
            first, *rest = tok.split("\n")
            cur.append(first)
            for part in rest:
                out.append(_finish(cur))
                cur = [part]
        else:
            cur.append(tok)
    return out


def tokenize(text: str) -> str:
    """Tokenize one caption as if it were the whole file."""
    return tokenize_lines([text])[0]


def tokenize_corpus(captions: dict[Hashable, list[str]]) -> dict[Hashable, list[str]]:
    """pycocoevalcap's PTBTokenizer.tokenize, without Java: {id: [caption, ...]} in, the
    tokenized captions (tokens joined by spaces) out, in the same order."""
    flat = [c for caps in captions.values() for c in caps]
    out = iter(tokenize_lines(flat))
    return {k: [next(out) for _ in caps] for k, caps in captions.items()}
