"""ISO 4217 currency codes accepted when opening an account."""

from __future__ import annotations

from eventledger_command.domain.errors import InvalidCurrencyError

_ISO_4217_TEXT = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP BYN BZD
    CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP
    GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW
    KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN
    NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL
    SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES
    VND VUV WST XAF XAG XAU XBA XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XTS XUA YER ZAR ZMW ZWG ZWL
"""

ISO_4217_CODES: frozenset[str] = frozenset(_ISO_4217_TEXT.split())
"""Alphabetic codes of ISO 4217 (list one, current funds and currencies), except XXX ("no currency")."""


def require_currency(currency: str) -> str:
    """Answer ``currency`` if it is an ISO 4217 code; refuse it otherwise (case matters: ``EUR``, not ``eur``)."""
    if currency not in ISO_4217_CODES:
        raise InvalidCurrencyError(f"{currency!r} is not an ISO 4217 currency code", currency=currency)
    return currency
