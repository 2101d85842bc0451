"""The fixed German phrases finance, clerks and auditors read about deliveries: why a channel was left out of a
route, the reasons of the delivery events and the dead letters. One table per topic, filled with
``str.format``; channel names, states and codes inside them stay as the machine writes them (``peppol``,
``queued``, ``BR-DE-15``), so that they can still be searched for.

    SKIP["no_address"].format(channel="peppol")  # "keine peppol-Adresse im Empfängerverzeichnis"

Code, docstrings and log lines stay English (house rules); only what lands in a report, an event or a dead
letter is taken from here.
"""
from __future__ import annotations

from collections.abc import Mapping

#: Why ``routing.route`` left a channel out (``Skipped.reason``).
SKIP: Mapping[str, str] = {
    "notice_by_email": ("ein Bescheid wird nie als einfacher E-Mail-Anhang versandt; die E-Mail meldet nur, dass er "
                        "in einem Postfach liegt"),
    "notice_by_peppol": "Peppol überträgt Rechnungen, keine Bescheide",
    "no_address": "keine {channel}-Adresse im Empfängerverzeichnis",
    "not_configured": "für {channel} ist kein Connector konfiguriert",
    "no_legal_basis": ("legal.toml nennt keine Rechtsgrundlage für Bescheide über {channel} "
                       "(notice_bases.{group})"),
    "citizen_email_invoice": ("Bürgerinnen und Bürger erhalten Rechnungen per E-Mail nur mit ihrer Einwilligung "
                              "(email_invoices)"),
    "postbox_invoice": "das {channel}-Postfach nimmt Bescheide an, keine Rechnungen",
    "no_leitweg_id": "eine Rechnung an eine öffentliche Stelle braucht deren Leitweg-ID (BR-DE-15)",
    "format": "{channel} nimmt das Format {format} des Dokuments nicht an (nur {allowed})",
    "size": "das Dokument hat {size}; {channel} nimmt höchstens {limit}",
    "no_portal": ("kein Rechnungsportal des Verzeichnisses ([[delivery.portals]]) ist für diesen Empfänger "
                  "zuständig"),
    "portal_leitweg_id": "das Portal {portal} braucht die Leitweg-ID auf der Rechnung (BR-DE-15)",
    "portal_no_email": ("das Portal {portal} nimmt Rechnungen per E-Mail an, und für email ist kein Connector "
                        "konfiguriert"),
    "portal_format": "email nimmt das Format {format} des Dokuments nicht an",
    "portal_size": "das Dokument hat {size}; das Portal {portal} nimmt höchstens {limit} je E-Mail",
}

#: Why ``consent.ConsentRules.decide`` keeps a notice off an electronic channel (a ``Skipped.reason``): the
#: provision in force on the posting day, and what the register records.
CONSENT: Mapping[str, str] = {
    "needs_consent": "{paragraph} setzt die Einwilligung des Empfängers voraus ({consent}); keine im Verzeichnis",
    "consent_later": ("{paragraph} setzt die Einwilligung des Empfängers voraus ({consent}); sie ist vom {given}, "
                      "nach dem Versandtag {day}"),
    "withdrawn": "{paragraph}: der Empfänger hat der elektronischen Bekanntgabe widersprochen ({since})",
    "opted_out": ("{paragraph}: Einwilligung vermutet, aber der Empfänger hat der elektronischen Bekanntgabe "
                  "widersprochen ({since})"),
    "undated": "ohne Datum",
}

#: The one-line route (``Route.explain``) and its parts.
ROUTE: Mapping[str, str] = {
    "no_channel": "kein Kanal",
    "left_out": "ausgelassen",
    "portal_hop": "Portal {portal} ({channel})",
}

#: Reasons of the delivery events (planner, worker, channel, computed) and of the dead letters.
EVENT: Mapping[str, str] = {
    # plan
    "route": "Weg: {route}",
    "not_in_register": ("Empfänger {recipient!r} fehlt im Empfängerverzeichnis von {department}: dort eintragen, "
                        "dann neu planen"),
    "no_channel": "kein Kanal kann das Dokument zustellen",
    # fallback
    "none_left": "kein Kanal mehr übrig ({channel} war der letzte): {reason}",
    "queued_again": "erneuter Versand nach {channel} ({state}): {reason}",
    "queued_next": "nächster Kanal nach {channel} ({state}): {reason}",
    "fell_back_again": "noch einmal über denselben Kanal: {reason}",
    "fell_back_next": "weiter mit dem nächsten Kanal {channel}: {reason}",
    # send
    "claimed": "zum Senden übernommen",
    "claimed_again_gone": "erneut zum Senden übernommen: der Prozess des vorigen Workers läuft nicht mehr",
    "claimed_again_lease": "erneut zum Senden übernommen: die Sperrfrist des vorigen Workers ist abgelaufen",
    "land_replaced": "; Land {stored!r} ist kein Länderkürzel, es gilt das konfigurierte ({land})",
    "no_land": "keines",
    "cannot_build": "die Sendung kann nicht zusammengestellt werden: {error}",
    "unexpected": "unerwarteter Fehler: {error}",
    "accepted": "angenommen von {channel}: {message_id}",
    "accepted_evidence": "der Kanal hat die Sendung angenommen: {message_id} um {at}",
    "recording_failed": "das Ergebnis ({outcome}) konnte nicht gespeichert werden: {error}",
    "temporary": "vorübergehender Fehler, Versuch {attempt} von {attempts}: {error}",
    "attempts_failed": "{attempts} Versuche gescheitert, zuletzt: {error}",
    "refused": "abgelehnt: {error}",
    # track
    "channel_failed": "der Kanal meldet die Zustellung als gescheitert",
    "expired": ("nicht abgerufen bis {deadline} ({days} Tage nach der Benachrichtigung, {title}): nicht "
                "bekanntgegeben"),
    "notified": "bekanntgegeben am {date}: {explanation}",
}

#: The explanation of a notification date (``notification.compute_notification_date``), kept with the date.
NOTIFICATION: Mapping[str, str] = {
    "period": "{title}: {start} am {day} ({time} {zone}), Tag {days} danach: {end} ({weekday})",
    "shifted": "verschoben auf den nächsten Werktag {end} ({weekday}) nach {skipped} (Kalender {calendar})",
    "retrieval": "erster Abruf am {day} ist früher: bekanntgegeben am {date}",
    "default_rule": "allgemeine Regel",
    "land_rule": "Regel {source}",
    "municipal_holiday": "Feiertag der Gemeinde ({day})",
}

#: The events a notification period starts with (``LegalRule.start``), as the explanation names them.
START_NAMES: Mapping[str, str] = {
    "provision": "Bereitstellung",
    "notification_sent": "Versand der Benachrichtigung",
    "retrieval": "Abruf",
}
