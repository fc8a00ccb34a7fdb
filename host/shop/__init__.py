"""An example merchant web shop and the online order flow (F24): the holder logs in, swipes
the card at the personal reader, the authentication centre checks PIN, address and credit,
the order is held in escrow through the payment gateway, arrives at the merchant, prints,
and is released on delivery."""

from .errors import GatewayRefusalError, ShopError, ShopLoginError
from .flow import Checkout, PlacedOrder, Swipe, place_code_order, place_order, print_order, swipe
from .store import ShopOrder, ShopStore
from .terminal import MerchantTerminal

__all__ = [
           "Checkout",
           "GatewayRefusalError",
           "MerchantTerminal",
           "PlacedOrder",
           "ShopError",
           "ShopLoginError",
           "ShopOrder",
           "ShopStore",
           "Swipe",
           "place_code_order",
           "place_order",
           "print_order",
           "swipe",
]
