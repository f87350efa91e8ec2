"""Confusable look-alikes of Latin letters that NFKC does not fold (UTS #39 skeleton idea).

Generated once from Unicode character names (see the comment on each entry) and checked in as data, so
the table never depends on a network download. It covers Cyrillic, Greek, Armenian, Cherokee and Lisu
look-alikes, IPA and small-capital Latin letters, and Latin letters with strokes or hooks (which have no
decomposition, so stripping combining marks cannot fold them). Fullwidth forms, mathematical
alphanumerics, circled/parenthesised/superscript letters and digits are folded by NFKC before this table
is applied; regional-indicator and negative squared/circled letters are added by ``_letter_ranges``.

Keys are single characters; values are lower-case ASCII. The mapping is aggressive on purpose: it is only
ever applied to text that is being scanned, and the rule terms go through the same folding.
"""

from __future__ import annotations

CONFUSABLES: dict[str, str] = {
    "\u0250": "a",  # LATIN SMALL LETTER TURNED A
    "\u0251": "a",  # LATIN SMALL LETTER ALPHA
    "\u0391": "a",  # GREEK CAPITAL LETTER ALPHA
    "\u03b1": "a",  # GREEK SMALL LETTER ALPHA
    "\u0410": "a",  # CYRILLIC CAPITAL LETTER A
    "\u0430": "a",  # CYRILLIC SMALL LETTER A
    "\u13aa": "a",  # CHEROKEE LETTER GO
    "\u1d00": "a",  # LATIN LETTER SMALL CAPITAL A
    "\u237a": "a",  # APL FUNCTIONAL SYMBOL ALPHA
    "\ua4ee": "a",  # LISU LETTER A
    "\uab7a": "a",  # CHEROKEE SMALL LETTER GO (form of CHEROKEE LETTER GO)
    "\u00c6": "ae",  # LATIN CAPITAL LETTER AE
    "\u00e6": "ae",  # LATIN SMALL LETTER AE
    "\u0180": "b",  # LATIN SMALL LETTER B WITH STROKE
    "\u0243": "b",  # LATIN CAPITAL LETTER B WITH STROKE
    "\u0253": "b",  # LATIN SMALL LETTER B WITH HOOK
    "\u0299": "b",  # LATIN LETTER SMALL CAPITAL B
    "\u0392": "b",  # GREEK CAPITAL LETTER BETA
    "\u03b2": "b",  # GREEK SMALL LETTER BETA
    "\u03d0": "b",  # GREEK BETA SYMBOL
    "\u0412": "b",  # CYRILLIC CAPITAL LETTER VE
    "\u042c": "b",  # CYRILLIC CAPITAL LETTER SOFT SIGN
    "\u0432": "b",  # CYRILLIC SMALL LETTER VE
    "\u044c": "b",  # CYRILLIC SMALL LETTER SOFT SIGN
    "\u13f4": "b",  # CHEROKEE LETTER YV
    "\u13fc": "b",  # CHEROKEE SMALL LETTER YV (form of CHEROKEE LETTER YV)
    "\ua4d0": "b",  # LISU LETTER BA
    "\u0188": "c",  # LATIN SMALL LETTER C WITH HOOK
    "\u023b": "c",  # LATIN CAPITAL LETTER C WITH STROKE
    "\u023c": "c",  # LATIN SMALL LETTER C WITH STROKE
    "\u03c2": "c",  # GREEK SMALL LETTER FINAL SIGMA
    "\u03f2": "c",  # GREEK LUNATE SIGMA SYMBOL
    "\u03f9": "c",  # GREEK CAPITAL LUNATE SIGMA SYMBOL
    "\u0421": "c",  # CYRILLIC CAPITAL LETTER ES
    "\u0441": "c",  # CYRILLIC SMALL LETTER ES
    "\u13df": "c",  # CHEROKEE LETTER TLI
    "\u1d04": "c",  # LATIN LETTER SMALL CAPITAL C
    "\u2cb9": "c",  # COPTIC SMALL LETTER DIALECT-P KAPA
    "\ua4da": "c",  # LISU LETTER CA
    "\uabaf": "c",  # CHEROKEE SMALL LETTER TLI (form of CHEROKEE LETTER TLI)
    "\u00d0": "d",  # LATIN CAPITAL LETTER ETH
    "\u00f0": "d",  # LATIN SMALL LETTER ETH (form of LATIN CAPITAL LETTER ETH)
    "\u0110": "d",  # LATIN CAPITAL LETTER D WITH STROKE
    "\u0111": "d",  # LATIN SMALL LETTER D WITH STROKE
    "\u0189": "d",  # LATIN CAPITAL LETTER AFRICAN D
    "\u0256": "d",  # LATIN SMALL LETTER D WITH TAIL
    "\u0257": "d",  # LATIN SMALL LETTER D WITH HOOK
    "\u0500": "d",  # CYRILLIC CAPITAL LETTER KOMI DE
    "\u0501": "d",  # CYRILLIC SMALL LETTER KOMI DE
    "\u13a0": "d",  # CHEROKEE LETTER A
    "\u1d05": "d",  # LATIN LETTER SMALL CAPITAL D
    "\ua4d3": "d",  # LISU LETTER DA
    "\uab70": "d",  # CHEROKEE SMALL LETTER A (form of CHEROKEE LETTER A)
    "\u0246": "e",  # LATIN CAPITAL LETTER E WITH STROKE
    "\u0247": "e",  # LATIN SMALL LETTER E WITH STROKE
    "\u025b": "e",  # LATIN SMALL LETTER OPEN E
    "\u0395": "e",  # GREEK CAPITAL LETTER EPSILON
    "\u03b5": "e",  # GREEK SMALL LETTER EPSILON
    "\u03f5": "e",  # GREEK LUNATE EPSILON SYMBOL
    "\u0415": "e",  # CYRILLIC CAPITAL LETTER IE
    "\u0435": "e",  # CYRILLIC SMALL LETTER IE
    "\u0454": "e",  # CYRILLIC SMALL LETTER UKRAINIAN IE
    "\u13ac": "e",  # CHEROKEE LETTER GV
    "\u1d07": "e",  # LATIN LETTER SMALL CAPITAL E
    "\ua4f0": "e",  # LISU LETTER E
    "\uab7c": "e",  # CHEROKEE SMALL LETTER GV (form of CHEROKEE LETTER GV)
    "\u0192": "f",  # LATIN SMALL LETTER F WITH HOOK
    "\u03dc": "f",  # GREEK LETTER DIGAMMA
    "\u03dd": "f",  # GREEK SMALL LETTER DIGAMMA (form of GREEK LETTER DIGAMMA)
    "\ua4dd": "f",  # LISU LETTER TSA
    "\ua730": "f",  # LATIN LETTER SMALL CAPITAL F
    "\u01e4": "g",  # LATIN CAPITAL LETTER G WITH STROKE
    "\u01e5": "g",  # LATIN SMALL LETTER G WITH STROKE
    "\u0260": "g",  # LATIN SMALL LETTER G WITH HOOK
    "\u0261": "g",  # LATIN SMALL LETTER SCRIPT G
    "\u0262": "g",  # LATIN LETTER SMALL CAPITAL G
    "\u050c": "g",  # CYRILLIC CAPITAL LETTER KOMI SJE
    "\u050d": "g",  # CYRILLIC SMALL LETTER KOMI SJE (form of CYRILLIC CAPITAL LETTER KOMI SJE)
    "\u0581": "g",  # ARMENIAN SMALL LETTER CO
    "\u13c0": "g",  # CHEROKEE LETTER NAH
    "\ua4d6": "g",  # LISU LETTER GA
    "\uab90": "g",  # CHEROKEE SMALL LETTER NAH (form of CHEROKEE LETTER NAH)
    "\u0126": "h",  # LATIN CAPITAL LETTER H WITH STROKE
    "\u0127": "h",  # LATIN SMALL LETTER H WITH STROKE
    "\u0266": "h",  # LATIN SMALL LETTER H WITH HOOK
    "\u029c": "h",  # LATIN LETTER SMALL CAPITAL H
    "\u0397": "h",  # GREEK CAPITAL LETTER ETA
    "\u041d": "h",  # CYRILLIC CAPITAL LETTER EN
    "\u043d": "h",  # CYRILLIC SMALL LETTER EN
    "\u04ba": "h",  # CYRILLIC CAPITAL LETTER SHHA
    "\u04bb": "h",  # CYRILLIC SMALL LETTER SHHA
    "\u0570": "h",  # ARMENIAN SMALL LETTER HO
    "\u13bb": "h",  # CHEROKEE LETTER MI
    "\ua4e7": "h",  # LISU LETTER XA
    "\uab8b": "h",  # CHEROKEE SMALL LETTER MI (form of CHEROKEE LETTER MI)
    "\u0131": "i",  # LATIN SMALL LETTER DOTLESS I
    "\u0197": "i",  # LATIN CAPITAL LETTER I WITH STROKE
    "\u0268": "i",  # LATIN SMALL LETTER I WITH STROKE
    "\u0269": "i",  # LATIN SMALL LETTER IOTA
    "\u026a": "i",  # LATIN LETTER SMALL CAPITAL I
    "\u0399": "i",  # GREEK CAPITAL LETTER IOTA
    "\u03b9": "i",  # GREEK SMALL LETTER IOTA
    "\u0406": "i",  # CYRILLIC CAPITAL LETTER BYELORUSSIAN-UKRAINIAN I
    "\u0456": "i",  # CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I
    "\u13a5": "i",  # CHEROKEE LETTER V
    "\ua4f2": "i",  # LISU LETTER I
    "\uab75": "i",  # CHEROKEE SMALL LETTER V (form of CHEROKEE LETTER V)
    "\U0001d6a4": "i",  # MATHEMATICAL ITALIC SMALL DOTLESS I
    "\u0237": "j",  # LATIN SMALL LETTER DOTLESS J
    "\u0249": "j",  # LATIN SMALL LETTER J WITH STROKE
    "\u037f": "j",  # GREEK CAPITAL LETTER YOT
    "\u03f3": "j",  # GREEK LETTER YOT
    "\u0408": "j",  # CYRILLIC CAPITAL LETTER JE
    "\u0458": "j",  # CYRILLIC SMALL LETTER JE
    "\u13ab": "j",  # CHEROKEE LETTER GU
    "\u1d0a": "j",  # LATIN LETTER SMALL CAPITAL J
    "\ua4d9": "j",  # LISU LETTER JA
    "\uab7b": "j",  # CHEROKEE SMALL LETTER GU (form of CHEROKEE LETTER GU)
    "\u0138": "k",  # LATIN SMALL LETTER KRA
    "\u0199": "k",  # LATIN SMALL LETTER K WITH HOOK
    "\u039a": "k",  # GREEK CAPITAL LETTER KAPPA
    "\u03ba": "k",  # GREEK SMALL LETTER KAPPA
    "\u03f0": "k",  # GREEK KAPPA SYMBOL
    "\u041a": "k",  # CYRILLIC CAPITAL LETTER KA
    "\u043a": "k",  # CYRILLIC SMALL LETTER KA
    "\u13e6": "k",  # CHEROKEE LETTER TSO
    "\u1d0b": "k",  # LATIN LETTER SMALL CAPITAL K
    "\ua4d7": "k",  # LISU LETTER KA
    "\uabb6": "k",  # CHEROKEE SMALL LETTER TSO (form of CHEROKEE LETTER TSO)
    "\u0141": "l",  # LATIN CAPITAL LETTER L WITH STROKE
    "\u0142": "l",  # LATIN SMALL LETTER L WITH STROKE
    "\u019a": "l",  # LATIN SMALL LETTER L WITH BAR
    "\u01c0": "l",  # LATIN LETTER DENTAL CLICK
    "\u026b": "l",  # LATIN SMALL LETTER L WITH MIDDLE TILDE
    "\u026c": "l",  # LATIN SMALL LETTER L WITH BELT
    "\u026d": "l",  # LATIN SMALL LETTER L WITH RETROFLEX HOOK
    "\u029f": "l",  # LATIN LETTER SMALL CAPITAL L
    "\u04c0": "l",  # CYRILLIC LETTER PALOCHKA
    "\u04cf": "l",  # CYRILLIC SMALL LETTER PALOCHKA
    "\u05c0": "l",  # HEBREW PUNCTUATION PASEQ
    "\u05d5": "l",  # HEBREW LETTER VAV
    "\u13de": "l",  # CHEROKEE LETTER TLE
    "\ua4e1": "l",  # LISU LETTER LA
    "\uabae": "l",  # CHEROKEE SMALL LETTER TLE (form of CHEROKEE LETTER TLE)
    "\u0271": "m",  # LATIN SMALL LETTER M WITH HOOK
    "\u039c": "m",  # GREEK CAPITAL LETTER MU
    "\u041c": "m",  # CYRILLIC CAPITAL LETTER EM
    "\u043c": "m",  # CYRILLIC SMALL LETTER EM
    "\u13b7": "m",  # CHEROKEE LETTER LU
    "\u1d0d": "m",  # LATIN LETTER SMALL CAPITAL M
    "\ua4df": "m",  # LISU LETTER MA
    "\uab87": "m",  # CHEROKEE SMALL LETTER LU (form of CHEROKEE LETTER LU)
    "\u014b": "n",  # LATIN SMALL LETTER ENG
    "\u019d": "n",  # LATIN CAPITAL LETTER N WITH LEFT HOOK
    "\u0272": "n",  # LATIN SMALL LETTER N WITH LEFT HOOK
    "\u0274": "n",  # LATIN LETTER SMALL CAPITAL N
    "\u039d": "n",  # GREEK CAPITAL LETTER NU
    "\u03b7": "n",  # GREEK SMALL LETTER ETA
    "\u043f": "n",  # CYRILLIC SMALL LETTER PE
    "\u0578": "n",  # ARMENIAN SMALL LETTER VO
    "\ua4e0": "n",  # LISU LETTER NA
    "\u00d8": "o",  # LATIN CAPITAL LETTER O WITH STROKE
    "\u00f8": "o",  # LATIN SMALL LETTER O WITH STROKE
    "\u0275": "o",  # LATIN SMALL LETTER BARRED O
    "\u039f": "o",  # GREEK CAPITAL LETTER OMICRON
    "\u03bf": "o",  # GREEK SMALL LETTER OMICRON
    "\u03c3": "o",  # GREEK SMALL LETTER SIGMA
    "\u041e": "o",  # CYRILLIC CAPITAL LETTER O
    "\u043e": "o",  # CYRILLIC SMALL LETTER O
    "\u04e9": "o",  # CYRILLIC SMALL LETTER BARRED O
    "\u0555": "o",  # ARMENIAN CAPITAL LETTER OH
    "\u0585": "o",  # ARMENIAN SMALL LETTER OH
    "\u13c5": "o",  # CHEROKEE LETTER NV
    "\u1d0f": "o",  # LATIN LETTER SMALL CAPITAL O
    "\u2c9e": "o",  # COPTIC CAPITAL LETTER O
    "\u2c9f": "o",  # COPTIC SMALL LETTER O
    "\ua4f3": "o",  # LISU LETTER O
    "\uab95": "o",  # CHEROKEE SMALL LETTER NV (form of CHEROKEE LETTER NV)
    "\u0152": "oe",  # LATIN CAPITAL LIGATURE OE
    "\u0153": "oe",  # LATIN SMALL LIGATURE OE
    "\u01a5": "p",  # LATIN SMALL LETTER P WITH HOOK
    "\u03a1": "p",  # GREEK CAPITAL LETTER RHO
    "\u03c1": "p",  # GREEK SMALL LETTER RHO
    "\u03f1": "p",  # GREEK RHO SYMBOL
    "\u0420": "p",  # CYRILLIC CAPITAL LETTER ER
    "\u0440": "p",  # CYRILLIC SMALL LETTER ER
    "\u0584": "p",  # ARMENIAN SMALL LETTER KEH
    "\u13e2": "p",  # CHEROKEE LETTER TLV
    "\u1d18": "p",  # LATIN LETTER SMALL CAPITAL P
    "\u2ca3": "p",  # COPTIC SMALL LETTER RO
    "\ua4d1": "p",  # LISU LETTER PA
    "\uabb2": "p",  # CHEROKEE SMALL LETTER TLV (form of CHEROKEE LETTER TLV)
    "\u02a0": "q",  # LATIN SMALL LETTER Q WITH HOOK
    "\u051a": "q",  # CYRILLIC CAPITAL LETTER QA
    "\u051b": "q",  # CYRILLIC SMALL LETTER QA
    "\u0566": "q",  # ARMENIAN SMALL LETTER ZA
    "\u024d": "r",  # LATIN SMALL LETTER R WITH STROKE
    "\u027d": "r",  # LATIN SMALL LETTER R WITH TAIL
    "\u027e": "r",  # LATIN SMALL LETTER R WITH FISHHOOK
    "\u0280": "r",  # LATIN LETTER SMALL CAPITAL R
    "\u0433": "r",  # CYRILLIC SMALL LETTER GHE
    "\u13a1": "r",  # CHEROKEE LETTER E
    "\ua4e3": "r",  # LISU LETTER ZHA
    "\uab71": "r",  # CHEROKEE SMALL LETTER E (form of CHEROKEE LETTER E)
    "\u0282": "s",  # LATIN SMALL LETTER S WITH HOOK
    "\u0405": "s",  # CYRILLIC CAPITAL LETTER DZE
    "\u0455": "s",  # CYRILLIC SMALL LETTER DZE
    "\u054f": "s",  # ARMENIAN CAPITAL LETTER TIWN
    "\u057f": "s",  # ARMENIAN SMALL LETTER TIWN (form of ARMENIAN CAPITAL LETTER TIWN)
    "\u13da": "s",  # CHEROKEE LETTER DU
    "\ua4e2": "s",  # LISU LETTER SA
    "\ua731": "s",  # LATIN LETTER SMALL CAPITAL S
    "\uabaa": "s",  # CHEROKEE SMALL LETTER DU (form of CHEROKEE LETTER DU)
    "\u0166": "t",  # LATIN CAPITAL LETTER T WITH STROKE
    "\u0167": "t",  # LATIN SMALL LETTER T WITH STROKE
    "\u01ad": "t",  # LATIN SMALL LETTER T WITH HOOK
    "\u0288": "t",  # LATIN SMALL LETTER T WITH RETROFLEX HOOK
    "\u03a4": "t",  # GREEK CAPITAL LETTER TAU
    "\u03c4": "t",  # GREEK SMALL LETTER TAU
    "\u0422": "t",  # CYRILLIC CAPITAL LETTER TE
    "\u0442": "t",  # CYRILLIC SMALL LETTER TE
    "\u13a2": "t",  # CHEROKEE LETTER I
    "\u1d1b": "t",  # LATIN LETTER SMALL CAPITAL T
    "\ua4d4": "t",  # LISU LETTER TA
    "\uab72": "t",  # CHEROKEE SMALL LETTER I (form of CHEROKEE LETTER I)
    "\u00fe": "th",  # LATIN SMALL LETTER THORN
    "\u0289": "u",  # LATIN SMALL LETTER U BAR
    "\u028a": "u",  # LATIN SMALL LETTER UPSILON
    "\u03bc": "u",  # GREEK SMALL LETTER MU
    "\u03c5": "u",  # GREEK SMALL LETTER UPSILON
    "\u054d": "u",  # ARMENIAN CAPITAL LETTER SEH
    "\u057d": "u",  # ARMENIAN SMALL LETTER SEH
    "\u1d1c": "u",  # LATIN LETTER SMALL CAPITAL U
    "\ua4f4": "u",  # LISU LETTER U
    "\u028b": "v",  # LATIN SMALL LETTER V WITH HOOK
    "\u03bd": "v",  # GREEK SMALL LETTER NU
    "\u0474": "v",  # CYRILLIC CAPITAL LETTER IZHITSA
    "\u0475": "v",  # CYRILLIC SMALL LETTER IZHITSA
    "\u13d9": "v",  # CHEROKEE LETTER DO
    "\u1d20": "v",  # LATIN LETTER SMALL CAPITAL V
    "\ua4e6": "v",  # LISU LETTER HA
    "\uaba9": "v",  # CHEROKEE SMALL LETTER DO (form of CHEROKEE LETTER DO)
    "\u03c9": "w",  # GREEK SMALL LETTER OMEGA
    "\u0461": "w",  # CYRILLIC SMALL LETTER OMEGA
    "\u051c": "w",  # CYRILLIC CAPITAL LETTER WE
    "\u051d": "w",  # CYRILLIC SMALL LETTER WE
    "\u0561": "w",  # ARMENIAN SMALL LETTER AYB
    "\u13b3": "w",  # CHEROKEE LETTER LA
    "\u13d4": "w",  # CHEROKEE LETTER TA
    "\u1d21": "w",  # LATIN LETTER SMALL CAPITAL W
    "\u2c73": "w",  # LATIN SMALL LETTER W WITH HOOK
    "\ua4ea": "w",  # LISU LETTER WA
    "\uab83": "w",  # CHEROKEE SMALL LETTER LA (form of CHEROKEE LETTER LA)
    "\uaba4": "w",  # CHEROKEE SMALL LETTER TA (form of CHEROKEE LETTER TA)
    "\u03a7": "x",  # GREEK CAPITAL LETTER CHI
    "\u03c7": "x",  # GREEK SMALL LETTER CHI
    "\u0425": "x",  # CYRILLIC CAPITAL LETTER HA
    "\u0445": "x",  # CYRILLIC SMALL LETTER HA
    "\ua4eb": "x",  # LISU LETTER SHA
    "\uab53": "x",  # LATIN SMALL LETTER CHI
    "\u01b4": "y",  # LATIN SMALL LETTER Y WITH HOOK
    "\u024f": "y",  # LATIN SMALL LETTER Y WITH STROKE
    "\u0263": "y",  # LATIN SMALL LETTER GAMMA
    "\u028f": "y",  # LATIN LETTER SMALL CAPITAL Y
    "\u03a5": "y",  # GREEK CAPITAL LETTER UPSILON
    "\u03b3": "y",  # GREEK SMALL LETTER GAMMA
    "\u0423": "y",  # CYRILLIC CAPITAL LETTER U
    "\u0443": "y",  # CYRILLIC SMALL LETTER U
    "\u04ae": "y",  # CYRILLIC CAPITAL LETTER STRAIGHT U
    "\u04af": "y",  # CYRILLIC SMALL LETTER STRAIGHT U
    "\u13a9": "y",  # CHEROKEE LETTER GI
    "\ua4ec": "y",  # LISU LETTER YA
    "\uab79": "y",  # CHEROKEE SMALL LETTER GI (form of CHEROKEE LETTER GI)
    "\u01b5": "z",  # LATIN CAPITAL LETTER Z WITH STROKE
    "\u01b6": "z",  # LATIN SMALL LETTER Z WITH STROKE
    "\u0225": "z",  # LATIN SMALL LETTER Z WITH HOOK
    "\u0290": "z",  # LATIN SMALL LETTER Z WITH RETROFLEX HOOK
    "\u0396": "z",  # GREEK CAPITAL LETTER ZETA
    "\u03b6": "z",  # GREEK SMALL LETTER ZETA (form of GREEK CAPITAL LETTER ZETA)
    "\u13c3": "z",  # CHEROKEE LETTER NO
    "\u1d22": "z",  # LATIN LETTER SMALL CAPITAL Z
    "\ua4dc": "z",  # LISU LETTER DZA
    "\uab93": "z",  # CHEROKEE SMALL LETTER NO (form of CHEROKEE LETTER NO)
}


def _letter_ranges() -> dict[str, str]:
    """Letter-shaped symbols in contiguous A..Z runs that have no compatibility decomposition."""
    out: dict[str, str] = {}
    for start in (0x1F1E6, 0x1F150, 0x1F170):  # regional indicators, negative circled, negative squared
        for i in range(26):
            out[chr(start + i)] = chr(ord("a") + i)
    return out


CONFUSABLES.update(_letter_ranges())

__all__ = ["CONFUSABLES"]
