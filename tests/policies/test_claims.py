"""The access token's claims may only save the database a lookup, never grant a row.

The custom access token hook puts ``user_role`` (profiles.role) and ``vendor_id`` (the shop
the user owns, or null) into every token Auth issues, and names the database role
``wats_admin`` in an admin's ``role`` claim, so that an admin's requests carry the admin
branch of the read policies and nobody else's do. The policy helpers read ``user_role``
only to answer "not an admin" (``private.is_admin``) without a lookup; every "yes" comes
from profiles, also under ``wats_admin``, and the shop always comes from vendors (a shop
opened a moment ago counts at once). So a token issued before a promotion can only see less
than the tables say (until the app refreshes its session), and a token claiming more than
the tables say sees nothing more. Each case is read through
supabase-py with a token signed as Auth signs them; the rows expected come from the
database as postgres.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from supabase import Client

from supabase_standin import keys
from tests.policies.actors import Actor, Outcome, client_for, mint_token
from tests.policies.harness import assert_denied
from tests.policies.matrix import COVERAGE
from tests.policies.world import World, rand

ROOT = Path(__file__).parents[2]


def acting(world: World, persona: str, **claims: Any) -> Actor:
    """The persona's user with a token carrying ``claims`` (as the hook would have put them)."""
    uid, phone = world.users[persona], world.phones[persona]
    last: dict[str, int] = {}
    token = mint_token(world.target.jwt_secret, uid, phone, **claims)
    return Actor(persona, uid, client_for(world.target.url, world.target.anon_key, last, token), "claims", phone, last)


def read(actor: Actor, call: Callable[[Client], Any]) -> set[str]:
    COVERAGE.escalations += 1
    out = actor.run(call)
    return {str(r["id"]) for r in out.rows()}


def ids(world: World, sql: str, params: list[Any]) -> set[str]:
    return {str(r[0]) for r in world.q(sql, params)}


def refused(actor: Actor, call: Callable[[Client], Any], what: str) -> Outcome:
    COVERAGE.escalations += 1
    out = actor.run(call)
    assert_denied(out, actor, what, silent_ok=False)
    return out


def shop_products(world: World, shop: str, where: str = "true") -> set[str]:
    return ids(world, f"select id from public.products where vendor_id = %s and {where}", [world.vendors[shop]])


def test_the_hook_puts_the_role_and_the_shop_into_the_token(world: World) -> None:
    for persona, shop, db_role in (
        ("vendor", world.vendors["vendor"], "authenticated"),
        ("customer", None, "authenticated"),
        ("admin", None, "wats_admin"),
    ):
        event = {"user_id": world.users[persona], "claims": {"sub": world.users[persona], "role": "authenticated"}}
        claims = world.one("select public.custom_access_token_hook(%s::jsonb) -> 'claims'", [json.dumps(event)])
        role = world.one("select role from public.profiles where id = %s", [world.users[persona]])
        assert claims["user_role"] == role and claims["vendor_id"] == shop, claims
        assert claims["role"] == db_role, claims


def test_an_admin_signed_in_through_auth_runs_as_wats_admin(world: World) -> None:
    """The admin of the suite signed in by OTP through supabase-py: Auth ran the hook, and
    the Data API runs the admin's statements as wats_admin, a member of authenticated."""
    assert world.admin_token
    claims = keys.verify(world.target.jwt_secret, world.admin_token)
    assert claims["role"] == "wats_admin" and claims["user_role"] == "admin", claims
    member = world.one("select pg_has_role('wats_admin', 'authenticated', 'member')")
    reached = world.one("select pg_has_role('authenticator', 'wats_admin', 'member')")
    assert member and reached


def test_a_token_from_before_the_shop_opened_manages_it_at_once(world: World) -> None:
    """vendor_id null in the token, a shop in vendors: the shop is read from vendors, so the
    owner sees its drafts and stock and can add products without a new token (the seed and
    the apps open a shop and add its center and products with the same session)."""
    shop = world.vendors["vendor"]
    stale = acting(world, "vendor", user_role="vendor", vendor_id=None)
    everything = shop_products(world, "vendor")
    assert everything != shop_products(world, "vendor", "status = 'active'")  # drafts exist
    assert read(stale, lambda c: c.table("products").select("id").eq("vendor_id", shop).execute()) == everything
    stock = ids(world, "select id from public.inventory where vendor_id = %s", [shop])
    assert stock and read(stale, lambda c: c.table("inventory").select("id").eq("vendor_id", shop).execute()) == stock
    product = {"vendor_id": shop, "title": f"Fresh shop {rand()}", "price": 1000}
    out = stale.run(lambda c: c.table("products").insert(product).execute())
    assert out.ok, out
    world.q("delete from public.products where title = %s", [product["title"]])


def test_a_claimed_shop_that_is_not_yours_shows_nothing_of_it(world: World) -> None:
    """A token naming someone else's shop (which only the JWT secret could sign): policies
    read ownership from vendors, so the customer sees that shop as any customer does."""
    shop = world.vendors["vendor"]
    stock = {
        "product_id": world.products[("vendor", "active")],
        "vendor_id": shop,
        "center_id": world.centers["active"],
        "on_hand": 1,
    }
    for persona in ("customer", "other_vendor"):
        claimer = acting(world, persona, user_role="vendor", vendor_id=shop)
        listed = shop_products(world, "vendor", "status = 'active'")
        assert read(claimer, lambda c: c.table("products").select("id").eq("vendor_id", shop).execute()) == listed
        assert read(claimer, lambda c: c.table("inventory").select("id").eq("vendor_id", shop).execute()) == set()
        own_lines = ids(
            world,
            "select id from public.order_items where vendor_id = %s and customer_id = %s",
            [shop, world.users[persona]],
        )
        lines = read(claimer, lambda c: c.table("order_items").select("id").eq("vendor_id", shop).execute())
        assert lines == own_lines
        refused(claimer, lambda c: c.table("inventory").insert(stock).execute(), "stock for a claimed shop")


def test_a_token_from_before_a_promotion_reads_as_the_user_it_was(world: World) -> None:
    """user_role customer in the token of an admin: only their own rows, no audit log."""
    admin = world.users["admin"]
    stale = acting(world, "admin", user_role="customer", vendor_id=None)
    assert read(stale, lambda c: c.table("audit_logs").select("id").limit(5).execute()) == set()
    assert read(stale, lambda c: c.table("profiles").select("id").execute()) == {admin}
    others = [world.users["customer"], world.users["other_customer"]]
    out = stale.run(lambda c: c.table("orders").select("id").in_("customer_id", others).execute())
    assert out.rows() == [], out


def test_a_claim_of_admin_grants_nothing_the_profile_does_not(world: World) -> None:
    """Neither user_role admin nor the database role wats_admin (a token only the JWT secret
    could sign) opens anything: the admin branch asks profiles."""
    customer = world.users["customer"]
    for claims in ({"user_role": "admin"}, {"user_role": "admin", "role": "wats_admin"}):
        claimer = acting(world, "customer", vendor_id=None, **claims)
        assert read(claimer, lambda c: c.table("profiles").select("id").execute()) == {customer}
        mine = ids(world, "select id from public.orders where customer_id = %s", [customer])
        assert read(claimer, lambda c: c.table("orders").select("id").execute()) == mine
        assert read(claimer, lambda c: c.table("inventory").select("id").limit(5).execute()) == set()
        assert read(claimer, lambda c: c.table("audit_logs").select("id").limit(5).execute()) == set()
        out = claimer.run(lambda c: c.table("vendor_accounts").select("vendor_id").limit(5).execute())
        assert out.rows() == [], out


@contextlib.contextmanager
def promoted(world: World, persona: str) -> Iterator[str]:
    """The persona made an admin for a while (as postgres), put back afterwards."""
    uid = world.users[persona]
    before = world.one("select role from public.profiles where id = %s", [uid])
    world.q("update public.profiles set role = 'admin' where id = %s", [uid])
    try:
        yield uid
    finally:
        world.q("update public.profiles set role = %s where id = %s", [before, uid])


def test_a_demoted_admin_loses_admin_rows_with_the_same_token(world: World) -> None:
    """The token still says admin after the demotion: the profile decides, at once."""
    others = [world.users["customer"], world.users["other_customer"]]
    theirs = ids(world, "select id from public.orders where customer_id = any(%s)", [others])
    assert theirs
    with promoted(world, "bystander"):
        token_holder = acting(world, "bystander", role="wats_admin", user_role="admin", vendor_id=None)
        seen = read(token_holder, lambda c: c.table("orders").select("id").in_("customer_id", others).execute())
        assert seen == theirs
        world.q("update public.profiles set role = 'customer' where id = %s", [world.users["bystander"]])
        after = read(token_holder, lambda c: c.table("orders").select("id").in_("customer_id", others).execute())
        assert after == set()
        own = ids(world, "select id from public.profiles where id = %s", [world.users["bystander"]])
        assert read(token_holder, lambda c: c.table("profiles").select("id").execute()) == own


def test_a_promoted_user_reads_as_an_admin_from_the_next_token(world: World) -> None:
    """The token issued before the promotion names authenticated: own rows only. The next
    token Auth issues (the hook runs again) names wats_admin and reads every order."""
    others = [world.users["customer"], world.users["other_customer"]]
    theirs = ids(world, "select id from public.orders where customer_id = any(%s)", [others])
    assert theirs
    with promoted(world, "bystander") as uid:
        before = acting(world, "bystander", user_role="customer", vendor_id=None)
        assert read(before, lambda c: c.table("orders").select("id").in_("customer_id", others).execute()) == set()
        event = {"user_id": uid, "claims": {"sub": uid, "role": "authenticated"}}
        issued = world.one("select public.custom_access_token_hook(%s::jsonb) -> 'claims'", [json.dumps(event)])
        assert issued["role"] == "wats_admin"
        after = acting(world, "bystander", role=issued["role"], user_role=issued["user_role"], vendor_id=None)
        assert read(after, lambda c: c.table("orders").select("id").in_("customer_id", others).execute()) == theirs


def test_an_admins_own_writes_pass_the_same_guards_as_anyones(world: World) -> None:
    """The guards tell a client's write from trusted code by current_user: wats_admin is a
    client role too. An admin marking their own notification read with a back-dated read_at
    gets the server's now(), as every reader does."""
    admin = world.users["admin"]
    note = world.one(
        "insert into public.notifications (user_id, type, title, body) "
        "values (%s, 'policy_probe', 'guard probe', 'guard probe') returning id::text",
        [admin],
    )
    try:
        out = world.actors["admin"].run(
            lambda c: c.table("notifications").update({"read_at": "2001-01-01T00:00:00Z"}).eq("id", note).execute()
        )
        assert out.ok, out
        recent = world.one(
            "select read_at > now() - interval '10 minutes' from public.notifications where id = %s", [note]
        )
        assert recent is True
    finally:
        world.q("delete from public.notifications where id = %s", [note])


def test_edge_functions_count_as_signed_in_exactly_the_roles_a_persons_token_can_name(world: World) -> None:
    """``SIGNED_IN_ROLES`` (``_shared/edge/jwt.ts``) is written by hand: it must list every
    role the Data API may switch to (``authenticator`` is a member of it) that is a signed-in
    person's (a member of ``authenticated``), so a role added to the hook is not refused at
    checkout, and nothing else."""
    source = (ROOT / "supabase" / "functions" / "_shared" / "edge" / "jwt.ts").read_text()
    listed = re.search(r"SIGNED_IN_ROLES: readonly string\[\] = \[(.*?)\];", source, re.S)
    assert listed, "SIGNED_IN_ROLES not found in jwt.ts"
    rows = world.q(
        "select r.rolname from pg_roles as r where r.rolname <> 'authenticator' "
        "and pg_has_role('authenticator', r.oid, 'member') and pg_has_role(r.oid, 'authenticated', 'member')"
    )
    assert set(re.findall(r'"([a-z_]+)"', listed.group(1))) == {name for (name,) in rows}
