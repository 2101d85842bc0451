"""Peppol eDelivery: participant identifiers, discovery (SML by DNS, then the SMP's signed ServiceMetadata), the
AS4 message (SBDH, ebMS3, WS-Security signature and encryption, MIME) and its signed receipt, and the adapter that
puts them together behind the channel port (``mailbox_connectors.base``).

Certificates of the network are checked against the configured trust anchors (``trust.check_certificate``): the
SMP's signing certificate must chain to the SMP CA, an access point's to the AP CA, both under the Peppol root.
"""
