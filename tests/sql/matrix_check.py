"""Check policies/*.toml against the database, directly in PostgreSQL (no HTTP stack).

Seeds tests/sql/fixtures.sql inside one transaction (rolled back at the end), then for every
table file and every role:

- privileges: [privileges] equals the table and column GRANTs of anon/authenticated/service_role;
- select: the rows the role sees (acting exactly like the Data API: `set_config('role')` and
  `request.jwt.claims`, transaction-local) equal the rows of the cell's sets;
- update / delete: every seeded row is tried (a no-op `set c = c` for update, inside a
  savepoint); allowed iff the row is in the cell's sets (allowed = changed, or failed with an
  integrity error; denied = 0 rows or 42501).

Then runs CASES: inserts, RPCs, the token hook, guards, state transitions and escalation
attempts, each in its own savepoint, with an optional follow-up query run as superuser.

Usage: python tests/sql/matrix_check.py "host=... port=... dbname=postgres user=supabase_admin"
(a superuser connection: the fixtures insert auth users as supabase_auth_admin).
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[2]
USERS = {
    "anon": None,
    "customer": "c0000000-0000-0000-0000-000000000001",
    "other_customer": "c0000000-0000-0000-0000-000000000002",
    "vendor": "b0000000-0000-0000-0000-000000000001",
    "other_vendor": "b0000000-0000-0000-0000-000000000002",
    "admin": "a0000000-0000-0000-0000-000000000001",
    "service_role": None,
}
DB_ROLE = {"anon": "anon", "service_role": "service_role"}
PRIVS = ("select", "insert", "update", "delete")


def act(cur: psycopg.Cursor, role: str) -> None:
    uid = USERS[role]
    db_role = DB_ROLE.get(role, "authenticated")
    claims = {"role": db_role} if uid is None else {"sub": uid, "role": db_role}
    cur.execute(
        "select set_config('role', %s, true), set_config('request.jwt.claims', %s, true)",
        (db_role, json.dumps(claims)),
    )


def predicate(cell: str | list[str], sets: dict[str, str], role: str) -> str:
    names = cell if isinstance(cell, list) else [cell]
    parts = []
    for name in names:
        if name == "all":
            parts.append("true")
        elif name == "none":
            parts.append("false")
        else:
            parts.append(f"({sets[name]})")
    uid = USERS[role]
    text = " or ".join(parts)
    return text.replace(":uid", f"'{uid}'::uuid" if uid else "null::uuid")


def key_expr(key: list[str]) -> sql.Composable:
    return sql.SQL("row({})::text").format(sql.SQL(", ").join(sql.Identifier(k) for k in key))


def parse_privs(items: list[str]) -> dict[str, set[str] | bool]:
    out: dict[str, set[str] | bool] = {}
    for item in items:
        m = re.fullmatch(r"(\w+)(?:\((.*)\))?", item.strip())
        assert m, item
        priv, cols = m.group(1), m.group(2)
        out[priv] = True if cols is None else {c.strip() for c in cols.split(",")}
    return out


def actual_privs(cur: psycopg.Cursor, table: str, role: str) -> dict[str, set[str] | bool]:
    out: dict[str, set[str] | bool] = {}
    for priv in PRIVS:
        cur.execute("select has_table_privilege(%s, %s, %s)", (role, table, priv))
        if cur.fetchone()[0]:
            out[priv] = True
            continue
        if priv in ("insert", "update", "select"):
            schema, name = table.split(".")
            cur.execute(
                """select a.attname from pg_attribute a
                   join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
                   where n.nspname = %s and c.relname = %s and a.attnum > 0 and not a.attisdropped
                     and has_column_privilege(%s, c.oid, a.attnum, %s)""",
                (schema, name, role, priv),
            )
            cols = {r[0] for r in cur.fetchall()}
            if cols:
                out[priv] = cols
    return out


def main(dsn: str) -> int:
    failures: list[str] = []
    cells = 0
    files = sorted((ROOT / "policies").glob("*.toml"))
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute((ROOT / "tests" / "sql" / "fixtures.sql").read_text())
        cur.execute("reset role")

        # every table has a file
        cur.execute(
            """select n.nspname || '.' || c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
               where c.relkind = 'r' and n.nspname in ('public', 'private')"""
        )
        tables = {r[0] for r in cur.fetchall()}
        covered = set()
        for f in files:
            if f.name == "functions.toml":
                continue
            covered.add(tomllib.loads(f.read_text())["table"])
        for missing in sorted(tables - covered):
            failures.append(f"{missing}: no matrix file")

        for f in files:
            if f.name == "functions.toml":
                continue
            spec = tomllib.loads(f.read_text())
            table = spec["table"]
            schema, name = table.split(".")
            ident = sql.Identifier(schema, name)
            key = spec["key"]
            sets = spec.get("sets", {})

            if table != "storage.objects":
                for db_role in ("anon", "authenticated", "service_role"):
                    want = parse_privs(spec["privileges"].get(db_role, []))
                    got = actual_privs(cur, table, db_role)
                    if want != got:
                        failures.append(f"{table}: privileges of {db_role}: matrix {want} != db {got}")

            cur.execute(sql.SQL("select {} from {}").format(key_expr(key), ident))
            all_rows = sorted(r[0] for r in cur.fetchall())

            for role in USERS:
                cell = spec[role]
                # select
                cells += 1
                cur.execute(
                    sql.SQL("select {} from {} where {}").format(
                        key_expr(key), ident, sql.SQL(predicate(cell["select"], sets, role))
                    )
                )
                expected = sorted(r[0] for r in cur.fetchall())
                cur.execute("savepoint s")
                act(cur, role)
                try:
                    cur.execute(sql.SQL("select {} from {}").format(key_expr(key), ident))
                    seen = sorted(r[0] for r in cur.fetchall())
                except psycopg.errors.InsufficientPrivilege:
                    seen = []
                    cur.execute("rollback to savepoint s")
                cur.execute("rollback to savepoint s")
                if seen != expected:
                    failures.append(f"{table} {role} select: expected {expected}, saw {seen}")

                # update and delete
                for op in ("update", "delete"):
                    cells += 1
                    cur.execute(
                        sql.SQL("select {} from {} where {}").format(
                            key_expr(key), ident, sql.SQL(predicate(cell[op], sets, role))
                        )
                    )
                    allowed = {r[0] for r in cur.fetchall()}
                    column = (cell.get("update_columns") or spec.get("probe_columns") or key)[0]
                    if op == "update" and not cell.get("update_columns"):
                        granted = parse_privs(spec["privileges"].get(DB_ROLE.get(role, "authenticated"), []))
                        if isinstance(granted.get("update"), set):
                            column = sorted(granted["update"])[0]
                    for row in all_rows:
                        cur.execute("savepoint s")
                        act(cur, role)
                        where = sql.SQL("{} = %s").format(key_expr(key))
                        if op == "update":
                            stmt = (
                                sql.SQL("update {} set {} = {} where ").format(
                                    ident, sql.Identifier(column), sql.Identifier(column)
                                )
                                + where
                            )
                        else:
                            stmt = sql.SQL("delete from {} where ").format(ident) + where
                        stmt += sql.SQL(" returning {}").format(key_expr(key))
                        try:
                            cur.execute(stmt, (row,))
                            outcome = "allowed" if cur.rowcount > 0 else "denied"
                            detail = f"{cur.rowcount} rows"
                        except psycopg.errors.InsufficientPrivilege as exc:
                            outcome, detail = "denied", f"42501 {exc.diag.message_primary}"
                        except psycopg.Error as exc:
                            outcome, detail = "allowed", f"{exc.sqlstate} {exc.diag.message_primary}"
                        cur.execute("rollback to savepoint s")
                        want = "allowed" if row in allowed else "denied"
                        if outcome != want:
                            failures.append(f"{table} {role} {op} {row}: expected {want}, got {outcome} ({detail})")
        cases = run_cases(cur, failures)
        conn.rollback()

    for line in failures:
        print("FAIL", line)
    print(
        f"{len(files) - 1} table files, {cells} select/update/delete cells and {cases} cases checked, "
        f"{len(failures)} failures"
    )
    return 1 if failures else 0


C1, C2 = USERS["customer"], USERS["other_customer"]
V1_USER, V2_USER, ADMIN = USERS["vendor"], USERS["other_vendor"], USERS["admin"]
V1, V2, V3 = (
    "d0000000-0000-0000-0000-000000000001",
    "d0000000-0000-0000-0000-000000000002",
    "d0000000-0000-0000-0000-000000000004",
)
P1, P2, P3 = (
    "10000000-0000-0000-0000-000000000001",
    "10000000-0000-0000-0000-000000000002",
    "10000000-0000-0000-0000-000000000003",
)
O1, O2 = "16000000-0000-0000-0000-000000000001", "16000000-0000-0000-0000-000000000002"
DAR = "f0000000-0000-0000-0000-000000000001"
ADDRESS = '{"recipient_name": "A", "region": "Dar", "district": "Ilala", "street": "X"}'

# (name, acting role, statement, expectation, follow-up query run as superuser, its value)
# expectation: "ok" (no error), "rows:N" (rowcount), "err:SQLSTATE", "value:<repr>" (first
# column of the first row, as str).
# fmt: off
CASES: list[tuple[str, str, str, str, str | None, str | None]] = [
    # identity
    ("customer cannot create a profile", "customer",
     f"insert into public.profiles (id) values ('{C2}')", "err:42501", None, None),
    ("customer cannot promote themself to admin", "customer",
     f"update public.profiles set role = 'admin' where id = '{C1}'", "err:42501", None, None),
    ("customer cannot change their phone", "customer",
     f"update public.profiles set phone = '255799999999' where id = '{C1}'", "err:42501", None, None),
    ("customer cannot read another customer's phone", "customer",
     f"select phone from public.profiles where id = '{C2}'", "rows:0", None, None),
    ("customer edits their own name", "customer",
     f"update public.profiles set full_name = 'Amina M.' where id = '{C1}'", "rows:1", None, None),
    ("admin makes a user a vendor (audited)", "admin",
     f"update public.profiles set role = 'vendor' where id = '{C2}'", "rows:1",
     f"select count(*) from public.audit_logs where entity_type = 'profiles' and entity_id = '{C2}' "
     f"and actor_id = '{ADMIN}' and after ->> 'role' = 'vendor'", "1"),
    ("the last admin cannot step down", "admin",
     f"update public.profiles set role = 'customer' where id = '{ADMIN}'", "err:23514", None, None),
    ("phone change in auth.users reaches the profile", "supabase_auth_admin",
     f"update auth.users set phone = '255711999999' where id = '{C1}'", "rows:1",
     f"select phone from public.profiles where id = '{C1}'", "255711999999"),
    ("hook: supabase_auth_admin gets user_role", "supabase_auth_admin",
     f"""select public.custom_access_token_hook('{{"user_id": "{ADMIN}", "claims": {{"role": "authenticated"}}}}')
         -> 'claims' ->> 'user_role'""", "value:admin", None, None),
    ("hook: customer without profile row defaults", "supabase_auth_admin",
     """select public.custom_access_token_hook('{"user_id": "99999999-0000-0000-0000-000000000000",
         "claims": {"role": "authenticated", "sub": "x"}}') -> 'claims' ->> 'user_role'""",
     "value:customer", None, None),
    ("hook not executable by authenticated", "customer",
     "select public.custom_access_token_hook('{}')", "err:42501", None, None),
    ("hook not executable by anon", "anon", "select public.custom_access_token_hook('{}')", "err:42501", None, None),
    ("hook not executable by service_role", "service_role",
     "select public.custom_access_token_hook('{}')", "err:42501", None, None),
    ("anon cannot call private.write_audit", "anon",
     "select private.write_audit('x', 'y', null)", "err:42501", None, None),
    ("authenticated cannot call private.write_audit", "customer",
     "select private.write_audit('x', 'y', null)", "err:42501", None, None),
    ("service_role cannot call private.write_audit", "service_role",
     "select private.write_audit('x', 'y', null)", "err:42501", None, None),
    ("authenticated cannot call the auth trigger function", "customer",
     "select private.handle_auth_user_created()", "err:42501", None, None),
    ("authenticated cannot read private tables", "customer",
     "select * from private.payment_events", "err:42501", None, None),
    ("service_role cannot read private tables", "service_role",
     "select * from private.idempotency_records", "err:42501", None, None),
    ("mask_phone keeps 3 + 4 digits", "customer",
     "select private.mask_phone('255712345678')", "value:255****5678", None, None),
    # vendors
    ("customer opens a shop (pending)", "customer",
     "insert into public.vendors (name, slug) values ('Amina Crafts', 'amina-crafts')", "rows:1",
     f"select status from public.vendors where owner_id = '{C1}'", "pending"),
    ("customer cannot open an approved shop", "customer",
     "insert into public.vendors (name, slug, status) values ('A', 'aa', 'approved')", "err:42501", None, None),
    ("customer cannot open a shop for someone else", "customer",
     f"insert into public.vendors (owner_id, name, slug) values ('{C2}', 'B', 'bb')", "err:42501", None, None),
    ("vendor cannot approve/suspend their own shop", "vendor",
     f"update public.vendors set status = 'suspended' where id = '{V1}'", "err:42501", None, None),
    ("vendor cannot hand their shop to someone else", "vendor",
     f"update public.vendors set owner_id = '{C1}' where id = '{V1}'", "err:42501", None, None),
    ("vendor cannot rename another vendor", "vendor",
     f"update public.vendors set name = 'Mine' where id = '{V2}'", "rows:0", None, None),
    ("admin approves a pending vendor; owner becomes vendor", "admin",
     f"update public.vendors set status = 'approved' where id = '{V3}'", "rows:1",
     "select role from public.profiles where id = 'b0000000-0000-0000-0000-000000000004'", "vendor"),
    ("approval is stamped and audited", "admin",
     f"update public.vendors set status = 'approved' where id = '{V3}'", "rows:1",
     f"select (approved_at is not null)::text || (select count(*) from public.audit_logs "
     f"where entity_id = '{V3}' and action = 'update')::text from public.vendors where id = '{V3}'", "true1"),
    ("vendor status cannot go back to pending", "admin",
     f"update public.vendors set status = 'pending' where id = '{V1}'", "err:WT001", None, None),
    ("vendor cannot change their commission", "vendor",
     f"update public.vendor_accounts set commission_bps = 0 where vendor_id = '{V1}'", "err:42501", None, None),
    ("vendor sets their payout wallet (audited)", "vendor",
     f"update public.vendor_accounts set payout_provider = 'mpesa', payout_msisdn = '255722000001' "
     f"where vendor_id = '{V1}'", "rows:1",
     f"select count(*) from public.audit_logs where entity_type = 'vendor_accounts' and entity_id = '{V1}'", "1"),
    ("vendor cannot read another vendor's account", "vendor",
     f"select * from public.vendor_accounts where vendor_id = '{V2}'", "rows:0", None, None),
    ("admin changes a commission", "admin",
     f"update public.vendor_accounts set commission_bps = 800 where vendor_id = '{V1}'", "rows:1", None, None),
    # catalog
    ("vendor cannot edit another vendor's product", "vendor",
     f"update public.products set price = 1 where id = '{P3}'", "rows:0", None, None),
    ("vendor cannot create a product for another vendor", "vendor",
     f"insert into public.products (vendor_id, title, price) values ('{V2}', 'x', 100)", "err:42501", None, None),
    ("vendor cannot move a product to another vendor", "vendor",
     f"update public.products set vendor_id = '{V2}' where id = '{P1}'", "err:42501", None, None),
    ("vendor creates a draft product", "vendor",
     f"insert into public.products (vendor_id, title, price) values ('{V1}', 'New', 1000)", "rows:1", None, None),
    ("customer cannot create a product", "customer",
     f"insert into public.products (vendor_id, title, price) values ('{V1}', 'x', 100)", "err:42501", None, None),
    ("anon cannot see a draft product", "anon", f"select * from public.products where id = '{P2}'", "rows:0",
     None, None),
    ("vendor adds an image under their folder", "vendor",
     f"insert into public.product_images (product_id, storage_path) values ('{P2}', '{V1}/new.png')",
     "rows:1", None, None),
    ("vendor cannot add an image to another vendor's product", "vendor",
     f"insert into public.product_images (product_id, storage_path) values ('{P3}', '{V2}/x.png')",
     "err:42501", None, None),
    ("vendor cannot spoof vendor_id on another vendor's product image", "vendor",
     f"insert into public.product_images (product_id, vendor_id, storage_path) values ('{P3}', '{V1}', "
     f"'{V1}/x.png')", "err:23503", None, None),
    ("image path must be in the vendor folder", "vendor",
     f"insert into public.product_images (product_id, storage_path) values ('{P2}', '{V2}/x.png')",
     "err:23514", None, None),
    ("category cycle refused", "admin",
     "update public.categories set parent_id = 'e0000000-0000-0000-0000-000000000002' "
     "where id = 'e0000000-0000-0000-0000-000000000001'", "err:23514", None, None),
    ("customer cannot create a category", "customer",
     "insert into public.categories (slug, name) values ('x', 'X')", "err:42501", None, None),
    ("vendor cannot feature another vendor's product", "vendor",
     f"insert into public.livestream_products (session_id, product_id, vendor_id) values "
     f"('13000000-0000-0000-0000-000000000001', '{P3}', '{V1}')", "err:23503", None, None),
    ("livestream cannot go from ended to live", "vendor",
     "update public.livestream_sessions set status = 'live' where id = '13000000-0000-0000-0000-000000000002'",
     "err:WT001", None, None),
    ("livestream goes live (stamped)", "vendor",
     "update public.livestream_sessions set status = 'live' where id = '13000000-0000-0000-0000-000000000001'",
     "rows:1",
     "select (started_at is not null)::text from public.livestream_sessions "
     "where id = '13000000-0000-0000-0000-000000000001'", "true"),
    # inventory and availability
    ("anon cannot read inventory", "anon", "select * from public.inventory", "err:42501", None, None),
    ("customer sees no inventory rows", "customer", "select * from public.inventory", "rows:0", None, None),
    ("anon reads availability of listed products only", "anon",
     f"select string_agg(center_code || '=' || available, ',' order by center_code) "
     f"from public.product_stock(array['{P1}', '{P2}', '10000000-0000-0000-0000-000000000005']::uuid[])",
     "value:ARU=2,DAR=9", None, None),
    ("vendor cannot set reserved", "vendor",
     "update public.inventory set reserved = 0 where id = '12000000-0000-0000-0000-000000000001'",
     "err:42501", None, None),
    ("on_hand cannot go below reserved", "vendor",
     "update public.inventory set on_hand = 0 where id = '12000000-0000-0000-0000-000000000001'",
     "err:23514", None, None),
    ("vendor cannot stock another vendor's product", "vendor",
     f"insert into public.inventory (product_id, center_id, on_hand) values ('{P3}', "
     f"'f0000000-0000-0000-0000-000000000002', 5)", "err:42501", None, None),
    ("vendor stocks their own product (vendor_id filled)", "vendor",
     f"insert into public.inventory (product_id, center_id, on_hand) values ('{P2}', "
     f"'f0000000-0000-0000-0000-000000000002', 5)", "rows:1", None, None),
    ("stock with reservations cannot be deleted", "vendor",
     "delete from public.inventory where id = '12000000-0000-0000-0000-000000000001'", "err:23514", None, None),
    # carts
    ("customer cannot add a draft product to the cart", "customer",
     f"insert into public.cart_items (cart_id, product_id, quantity) values "
     f"('14000000-0000-0000-0000-000000000001', '{P2}', 1)", "err:42501", None, None),
    ("customer cannot add to another customer's cart", "customer",
     f"insert into public.cart_items (cart_id, product_id, quantity) values "
     f"('14000000-0000-0000-0000-000000000002', '{P1}', 1)", "err:23503", None, None),
    ("customer adds a listed product to their cart", "customer",
     f"insert into public.cart_items (cart_id, product_id, quantity) values "
     f"('14000000-0000-0000-0000-000000000001', '{P3}', 3)", "rows:1", None, None),
    ("admin opens their own cart", "admin", "insert into public.carts default values", "rows:1", None, None),
    # orders and payments
    ("customer cannot create an order", "customer",
     f"insert into public.orders (customer_id, subtotal, total, shipping_address, phone, idempotency_key) "
     f"values ('{C1}', 1, 1, '{ADDRESS}', '255711000001', 'x')", "err:42501", None, None),
    ("customer cannot edit an order total", "customer",
     f"update public.orders set total = 1 where id = '{O1}'", "err:42501", None, None),
    ("customer cannot edit an order status", "customer",
     f"update public.orders set status = 'completed' where id = '{O1}'", "err:42501", None, None),
    ("customer cannot delete an order", "customer", f"delete from public.orders where id = '{O1}'",
     "err:42501", None, None),
    ("customer cannot insert a payment", "customer",
     f"insert into public.payments (order_id, customer_id, provider, msisdn, amount) "
     f"values ('{O1}', '{C1}', 'mpesa', '255711000001', 1)", "err:42501", None, None),
    ("customer cannot mark a payment succeeded", "customer",
     "update public.payments set status = 'succeeded' where id = '18000000-0000-0000-0000-000000000003'",
     "err:42501", None, None),
    ("service_role cannot insert a payment directly", "service_role",
     f"insert into public.payments (order_id, customer_id, provider, msisdn, amount) "
     f"values ('{O1}', '{C1}', 'mpesa', '255711000001', 1)", "err:42501", None, None),
    ("service_role cannot update an order directly", "service_role",
     f"update public.orders set status = 'cancelled' where id = '{O1}'", "err:42501", None, None),
    ("vendor does not see the orders they fulfil in orders", "vendor",
     f"select * from public.orders where id = '{O1}'", "rows:0", None, None),
    ("vendor sees their lines with the phone masked", "vendor",
     "select string_agg(distinct customer_phone, ',') from public.vendor_order_lines()",
     "value:255****0001,255****0002", None, None),
    ("vendor_order_lines hides pending and other vendors' lines", "vendor",
     "select count(*) from public.vendor_order_lines()", "value:3", None, None),
    ("other vendor sees only their own line", "other_vendor",
     "select string_agg(order_item_id::text, ',') from public.vendor_order_lines()",
     "value:17000000-0000-0000-0000-000000000002", None, None),
    ("admin sees lines unmasked", "admin",
     f"select customer_phone from public.vendor_order_lines('{V2}')", "value:255711000001", None, None),
    ("customer gets no vendor lines", "customer", "select * from public.vendor_order_lines()", "rows:0", None,
     None),
    ("anon cannot call vendor_order_lines", "anon", "select * from public.vendor_order_lines()", "err:42501",
     None, None),
    # state machines (as the migration role, like the SQL functions will)
    ("payment cannot go back from succeeded to pending", "postgres",
     "update public.payments set status = 'pending' where id = '18000000-0000-0000-0000-000000000001'",
     "err:WT001", None, None),
    ("payment initiated -> succeeded is stamped and audited", "postgres",
     "update public.payments set status = 'succeeded' where id = '18000000-0000-0000-0000-000000000003'",
     "rows:1",
     "select (completed_at is not null)::text || (select count(*) from public.audit_logs where entity_id = "
     "'18000000-0000-0000-0000-000000000003' and after ->> 'status' = 'succeeded')::text "
     "from public.payments where id = '18000000-0000-0000-0000-000000000003'", "true1"),
    ("order cannot go from pending_payment to shipped", "postgres",
     "update public.orders set status = 'shipped' where id = '16000000-0000-0000-0000-000000000003'",
     "err:WT001", None, None),
    ("order pending_payment -> expired -> paid (late success)", "postgres",
     "update public.orders set status = 'expired' where id = '16000000-0000-0000-0000-000000000003'; "
     "update public.orders set status = 'paid' where id = '16000000-0000-0000-0000-000000000003'",
     "ok",
     "select (expired_at is not null and paid_at is not null)::text from public.orders "
     "where id = '16000000-0000-0000-0000-000000000003'", "true"),
    ("review flag needs a reason", "postgres",
     "update public.payments set needs_review = true where id = '18000000-0000-0000-0000-000000000001'",
     "err:23514", None, None),
    ("order total must add up", "postgres",
     f"update public.orders set total = 1 where id = '{O1}'", "err:23514", None, None),
    ("shipping address shape is checked", "postgres",
     f"""update public.orders set shipping_address = '{{"region": "Dar"}}' where id = '{O1}'""",
     "err:23514", None, None),
    # fulfilment
    ("admin cannot set shipment status directly", "admin",
     "update public.shipments set status = 'packed' where id = '19000000-0000-0000-0000-000000000001'",
     "err:42501", None, None),
    ("admin moves a shipment through set_shipment_status", "admin",
     "select status from public.set_shipment_status('19000000-0000-0000-0000-000000000001', 'packed')",
     "value:packed", None, None),
    ("illegal shipment transition", "admin",
     "select public.set_shipment_status('19000000-0000-0000-0000-000000000001', 'delivered')",
     "err:WT001", None, None),
    ("customer cannot call set_shipment_status", "customer",
     "select public.set_shipment_status('19000000-0000-0000-0000-000000000001', 'packed')",
     "err:42501", None, None),
    ("service_role may call set_shipment_status", "service_role",
     "select status from public.set_shipment_status('19000000-0000-0000-0000-000000000001', 'packed')",
     "value:packed", None, None),
    ("admin moves an order to processing", "admin",
     f"select status from public.set_order_fulfillment_status('{O1}', 'processing')", "value:processing",
     None, None),
    ("fulfilment function refuses payment states", "admin",
     f"select public.set_order_fulfillment_status('{O1}', 'cancelled')", "err:22023", None, None),
    ("fulfilment function refuses skipping states", "admin",
     f"select public.set_order_fulfillment_status('{O1}', 'completed')", "err:WT001", None, None),
    ("vendor cannot call set_order_fulfillment_status", "vendor",
     f"select public.set_order_fulfillment_status('{O1}', 'processing')", "err:42501", None, None),
    ("customer cannot create a shipment", "customer",
     f"insert into public.shipments (order_id, center_id) values ('{O1}', '{DAR}')", "err:42501", None, None),
    ("a moved shipment cannot be deleted", "admin",
     "update public.shipments set carrier = 'x' where false; "
     "select public.set_shipment_status('19000000-0000-0000-0000-000000000001', 'packed'); "
     "delete from public.shipments where id = '19000000-0000-0000-0000-000000000001'",
     "err:WT001", None, None),
    # returns
    ("customer cannot return from an undelivered order", "customer",
     "insert into public.returns (order_item_id, quantity, reason) values "
     "('17000000-0000-0000-0000-000000000001', 1, 'damaged')", "err:WT001", None, None),
    ("customer cannot return another customer's line", "customer",
     "insert into public.returns (order_item_id, quantity, reason) values "
     "('17000000-0000-0000-0000-000000000003', 1, 'damaged')", "err:42501", None, None),
    ("customer cannot return more than bought", "other_customer",
     "insert into public.returns (order_item_id, quantity, reason) values "
     "('17000000-0000-0000-0000-000000000003', 1, 'damaged')", "err:23514", None, None),
    ("customer cannot decide their own return", "other_customer",
     "update public.returns set status = 'approved' where id = '1a000000-0000-0000-0000-000000000001'",
     "rows:0", None, None),
    ("vendor cannot decide a return", "vendor",
     "update public.returns set status = 'approved' where id = '1a000000-0000-0000-0000-000000000001'",
     "rows:0", None, None),
    ("admin rejects the return; order back to delivered", "admin",
     "update public.returns set status = 'rejected' where id = '1a000000-0000-0000-0000-000000000001'",
     "rows:1", f"select status from public.orders where id = '{O2}'", "delivered"),
    ("refund cannot exceed the line value", "admin",
     "update public.returns set refund_amount = 250001 where id = '1a000000-0000-0000-0000-000000000001'",
     "err:23514", None, None),
    # loyalty, notifications, audit
    ("loyalty balance", "customer", "select public.loyalty_balance()", "value:100", None, None),
    ("service_role cannot add loyalty points directly", "service_role",
     f"insert into public.loyalty_points (customer_id, points, reason) values ('{C1}', 5, 'bonus')",
     "err:42501", None, None),
    ("the ledger is append-only even for the owner role", "postgres",
     "update public.loyalty_points set points = 1000", "err:42501", None, None),
    ("customer marks a notification read (server time)", "customer",
     "update public.notifications set read_at = '2000-01-01' where id = '1d000000-0000-0000-0000-000000000001'",
     "rows:1",
     "select (read_at > now() - interval '1 minute')::text from public.notifications "
     "where id = '1d000000-0000-0000-0000-000000000001'", "true"),
    ("customer cannot edit a notification's text", "customer",
     "update public.notifications set title = 'x' where id = '1d000000-0000-0000-0000-000000000001'",
     "err:42501", None, None),
    ("customer cannot mark someone else's notification", "customer",
     "update public.notifications set read_at = now() where id = '1d000000-0000-0000-0000-000000000002'",
     "rows:0", None, None),
    ("customer cannot create notifications", "customer",
     f"insert into public.notifications (user_id, type, title) values ('{C1}', 'system', 'x')",
     "err:42501", None, None),
    ("customer cannot delete notifications", "customer",
     "delete from public.notifications where id = '1d000000-0000-0000-0000-000000000001'", "err:42501",
     None, None),
    ("admin cannot update an audit row", "admin", "update public.audit_logs set action = 'x'", "err:42501",
     None, None),
    ("admin cannot delete an audit row", "admin", "delete from public.audit_logs", "err:42501", None, None),
    ("admin cannot insert an audit row", "admin",
     "insert into public.audit_logs (actor_role, action, entity_type) values ('admin', 'x', 'y')",
     "err:42501", None, None),
    ("service_role cannot delete an audit row", "service_role", "delete from public.audit_logs", "err:42501",
     None, None),
    ("even the owner cannot update an audit row", "postgres", "update public.audit_logs set action = 'x'",
     "err:42501", None, None),
    ("even the owner cannot delete an audit row", "postgres", "delete from public.audit_logs", "err:42501",
     None, None),
    ("even the owner cannot truncate the audit log", "postgres", "truncate public.audit_logs", "err:42501",
     None, None),
    ("customer cannot read the audit log", "customer", "select * from public.audit_logs", "rows:0", None, None),
    # storage
    ("vendor uploads into their folder", "vendor",
     f"insert into storage.objects (bucket_id, name) values ('product-images', '{V1}/a.png')", "rows:1",
     None, None),
    ("vendor cannot upload into another vendor's folder", "vendor",
     f"insert into storage.objects (bucket_id, name) values ('product-images', '{V2}/a.png')", "err:42501",
     None, None),
    ("vendor cannot upload outside a folder", "vendor",
     "insert into storage.objects (bucket_id, name) values ('product-images', 'a.png')", "err:42501",
     None, None),
    ("customer cannot upload", "customer",
     f"insert into storage.objects (bucket_id, name) values ('product-images', '{V1}/b.png')", "err:42501",
     None, None),
    ("anon cannot upload", "anon",
     f"insert into storage.objects (bucket_id, name) values ('product-images', '{V1}/b.png')", "err:42501",
     None, None),
    ("vendor cannot delete another vendor's image", "vendor",
     "delete from storage.objects where id = '1e000000-0000-0000-0000-000000000002'", "rows:0", None, None),
    ("admin uploads anywhere in the bucket", "admin",
     f"insert into storage.objects (bucket_id, name) values ('product-images', '{V2}/z.png')", "rows:1",
     None, None),
]
# fmt: on


def run_cases(cur: psycopg.Cursor, failures: list[str]) -> int:
    for name, role, stmt, expect, follow, follow_value in CASES:
        cur.execute("savepoint c")
        if role in USERS:
            act(cur, role)
        else:
            cur.execute(sql.SQL("set local role {}").format(sql.Identifier(role)))
        got = ""
        if stmt.lstrip().startswith(("insert", "update", "delete")) and ";" not in stmt:
            stmt += " returning *"  # as the Data API does (Prefer: return=representation)
        try:
            cur.execute(stmt)
            if expect.startswith("value:"):
                row = cur.fetchone()
                got = "value:" + ("" if row is None or row[0] is None else str(row[0]))
            elif expect.startswith("rows:"):
                got = f"rows:{cur.rowcount}"
            else:
                got = "ok"
            if follow is not None and got == expect:
                cur.execute("reset role")
                cur.execute(follow)
                value = str(cur.fetchone()[0])
                if value != follow_value:
                    got = f"{got}, then {value!r} instead of {follow_value!r}"
        except psycopg.Error as exc:
            got = f"err:{exc.sqlstate} ({exc.diag.message_primary})"
        cur.execute("rollback to savepoint c")
        if not (got == expect or (expect.startswith("err:") and got.startswith(expect + " "))):
            failures.append(f"case {name!r} as {role}: expected {expect}, got {got}")
    return len(CASES)


if __name__ == "__main__":
    default_dsn = "host=127.0.0.1 port=54322 dbname=postgres user=supabase_admin"
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else default_dsn))
