"""Chip 1 payment protocol: what the card and the issuer host must agree on, byte for byte.

The payment applications of chip 1 follow EMV's published contact methods (EMV 4.3
Books 2 and 3) without copying any scheme's proprietary specification. This package
holds everything both sides compute or parse: AIDs, DGI layouts, the cryptogram
versions (keys, application cryptograms, ARPC, issuer-script secure messaging), the
card verification results, the issuer application data, the card status update and
the plaintext PIN block. Nothing here keeps state or does I/O.
"""
