"""``wats demo``: the marketplace's whole story, end to end, against the running local stack.

Amina signs in by phone OTP and pays a two-vendor cart with each provider (M-Pesa, Airtel
Money, Mixx by Yas, HaloPesa) against the sandbox. Then after payment: one order is packed,
dispatched and delivered and one item comes back with a photo and is refunded to her
phone; another is cancelled before packing and refunded in full; the rest are delivered.
A week later (the demo moves the dates) the orders complete, the weekly payout run pays
each vendor to their wallet, and Amina spends her points on a new order. Baraka buys a phone
in two instalments (lipa kidogo kidogo): the second is pushed by the scheduled job when it
falls due (the demo moves the due date) and only then does the order ship. Kariakoo
Electronics goes live; Chausiku, who asked to be reminded, is told and buys at the live
price. Amina's app registered its Expo push token at the start: the demo ends with the SMS
and pushes that reached her phone. Every step prints what it did; any step that does not do
what it says stops the demo with a non-zero exit.
"""

from __future__ import annotations

import argparse

from supabase import Client

from wats.demo import after_payment, instalments, livestream, messages, money_out
from wats.demo.api import Stack, one, rpc
from wats.demo.checkout import pay
from wats.demo.show import DemoFailed, show, step, tzs
from wats.sandbox import PROVIDERS
from wats.seed.catalog import PEOPLE
from wats.seed.sessions import sign_in
from wats.settings import Settings
from wats.stack import control


def phone_of(key: str) -> str:
    return next(p.phone for p in PEOPLE if p.key == key)


def signed_in(settings: Settings, key: str) -> tuple[Client, str]:
    """A seeded person signed in by phone OTP, with their user id."""
    client = sign_in(settings.api_url, settings.anon_key, phone_of(key))
    user = client.auth.get_user()
    if user is None or user.user is None:
        raise DemoFailed(f"{key} signed in, but no user")
    return client, user.user.id


def story(settings: Settings) -> None:
    stack = Stack(settings)
    step("Amina signs in with her phone (POST /auth/v1/otp, then /auth/v1/verify with OTP 123456)")
    customer = sign_in(settings.api_url, settings.anon_key, phone_of("amina"))
    user = customer.auth.get_user()
    if user is None or user.user is None:
        raise DemoFailed("signed in, but no user")
    user_id, msisdn = user.user.id, phone_of("amina")
    show("user", f"{user_id} phone {user.user.phone}")
    device = messages.register_device(stack, customer, msisdn)
    admin = sign_in(settings.api_url, settings.anon_key, phone_of("admin"))
    vendors: dict[str, Client] = {
        "Kariakoo Electronics": sign_in(settings.api_url, settings.anon_key, phone_of("kariakoo")),
        "Zanzibar Spice House": sign_in(settings.api_url, settings.anon_key, phone_of("zanzibar")),
    }
    wallets = {"Kariakoo Electronics": phone_of("kariakoo"), "Zanzibar Spice House": phone_of("zanzibar")}
    holders = {shop: next(p.full_name for p in PEOPLE if p.phone == wallet) for shop, wallet in wallets.items()}

    paid = {provider: pay(stack, customer, admin, user_id, provider) for provider in PROVIDERS}

    first, cancelled, *rest = paid.values()
    after_payment.ship_and_deliver(admin, customer, first)
    after_payment.return_one_item(stack, admin, customer, user_id, msisdn, first)
    after_payment.cancel_before_packing(stack, admin, customer, msisdn, cancelled)
    for order in rest:
        after_payment.ship_and_deliver(admin, customer, order)

    baraka, baraka_id = signed_in(settings, "baraka")
    instalments.buy_on_a_plan(stack, admin, baraka, baraka_id)
    chausiku, chausiku_id = signed_in(settings, "chausiku")
    kariakoo = vendors["Kariakoo Electronics"]
    shop = one(kariakoo.table("vendors").select("id").eq("name", "Kariakoo Electronics").execute())["id"]
    livestream.go_live(stack, kariakoo, str(shop), chausiku, chausiku_id)

    money_out.complete(stack, customer, [first, *rest])
    money_out.pay_out(stack, vendors, wallets, holders)
    last = money_out.spend_points(stack, customer, user_id, vendors["Kariakoo Electronics"])
    messages.show_messages(stack, device)

    n = len(PROVIDERS)
    step(
        f"Done: {n} orders paid with {n} providers, {n - 1} delivered and completed (one item returned and "
        f"refunded), one cancelled and refunded, {len(vendors)} vendors paid out, points spent; "
        f"Amina has {rpc(customer, 'loyalty_balance')} points and her last order cost {tzs(last.amount)} "
        f"({tzs(last.discount)} paid in points); Baraka's phone was paid in two instalments and shipped; "
        "Chausiku bought live."
    )


def main(args: argparse.Namespace) -> int:
    settings = Settings.load(args.instance)
    if not control.daemon_pid(settings):
        print("The stack is not running: start it with ./scripts/wats start")
        return 1
    try:
        story(settings)
        return 0
    except DemoFailed as exc:
        print(f"\n✗ demo failed: {exc}")
        return 1
