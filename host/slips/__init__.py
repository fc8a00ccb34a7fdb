"""The merchant's print module: one slip model, printed as ESC/POS bytes or a PDF page."""

from .escpos import decode_escpos, encode_escpos
from .model import Align, Item, Line, Slip, SlipError, SlipKind, layout, money
from .pdf import encode_pdf
from .sink import PrinterUnreachableError, send

__all__ = ["Align", "Item", "Line", "PrinterUnreachableError", "Slip", "SlipError", "SlipKind",
           "decode_escpos", "encode_escpos", "encode_pdf", "layout", "money", "send"]
