"""``wats seed``: demo data created through the public APIs, as the apps would.

Each person signs in by phone OTP (the test phones of supabase/config.toml); the admin
creates fulfillment centers and categories and approves shops; each vendor opens a shop,
lists products, uploads their images to Storage and stocks them. Only two things use the
service role, because no app user can do them: making the first admin, and nothing else
unless ``--scale`` asks for the synthetic benchmark dataset (see ``synthetic.py``).
Running it again changes nothing that is already there.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from supabase import Client, create_client

from wats.seed import catalog
from wats.seed.images import solid_png
from wats.seed.sessions import sign_in
from wats.settings import Settings

BUCKET = "product-images"


@dataclass
class Seeded:
    people: dict[str, str] = field(default_factory=dict)  # key -> user id
    centers: dict[str, str] = field(default_factory=dict)  # code -> id
    categories: dict[str, str] = field(default_factory=dict)  # slug -> id
    vendors: dict[str, str] = field(default_factory=dict)  # slug -> id
    products: int = 0
    images: int = 0
    stock_rows: int = 0


def _rows(data: object) -> list[dict[str, Any]]:
    """A Data API answer's rows (supabase-py types them as any JSON)."""
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise TypeError(f"expected rows, got {type(data).__name__}")
    return data


def _one(data: object) -> dict[str, Any] | None:
    rows = _rows(data)
    return rows[0] if rows else None


def _first(data: object) -> dict[str, Any]:
    row = _one(data)
    if row is None:
        raise LookupError("the Data API returned no row")
    return row


def make_admin(service: Client, user_id: str) -> None:
    """The first admin can only be made by the platform operator (service role)."""
    service.table("profiles").update({"role": "admin"}).eq("id", user_id).neq("role", "admin").execute()


def seed_reference_data(admin: Client, out: Seeded) -> None:
    for c in catalog.CENTERS:
        row = _one(admin.table("fulfillment_centers").select("id").eq("code", c.code).execute().data)
        if row is None:
            row = _first(
                admin.table("fulfillment_centers")
                .insert({"code": c.code, "name": c.name, "region": c.region, "address": c.address})
                .execute()
                .data
            )
        out.centers[c.code] = row["id"]
    for position, (slug, name, parent) in enumerate(catalog.CATEGORIES):
        row = _one(admin.table("categories").select("id").eq("slug", slug).execute().data)
        if row is None:
            row = _first(
                admin.table("categories")
                .insert(
                    {
                        "slug": slug,
                        "name": name,
                        "parent_id": out.categories.get(parent) if parent else None,
                        "position": position,
                    }
                )
                .execute()
                .data
            )
        out.categories[slug] = row["id"]


def seed_shop(vendor: Client, admin: Client, shop: catalog.Shop, phone: str, out: Seeded) -> None:
    row = _one(vendor.table("vendors").select("id,status").eq("slug", shop.slug).execute().data)
    if row is None:
        row = _first(
            vendor.table("vendors")
            .insert({"name": shop.name, "slug": shop.slug, "region": shop.region, "description": shop.description})
            .execute()
            .data
        )
    vendor_id = row["id"]
    out.vendors[shop.slug] = vendor_id
    vendor.table("vendor_accounts").update({"payout_provider": shop.payout_provider, "payout_msisdn": phone}).eq(
        "vendor_id", vendor_id
    ).execute()
    if shop.approved and row.get("status") != "approved":
        admin.table("vendors").update({"status": "approved"}).eq("id", vendor_id).execute()

    existing: dict[str, str] = {
        str(p["title"]): str(p["id"])
        for p in _rows(vendor.table("products").select("id,title").eq("vendor_id", vendor_id).execute().data)
    }
    for product in shop.products:
        product_id = existing.get(product.title)
        if product_id is None:
            product_id = _first(
                vendor.table("products")
                .insert(
                    {
                        "vendor_id": vendor_id,
                        "category_id": out.categories[product.category],
                        "title": product.title,
                        "description": product.description,
                        "price": product.price,
                        "status": "active",
                    }
                )
                .execute()
                .data
            )["id"]
        out.products += 1
        seed_image(vendor, vendor_id, product_id, product.title, out)
        seed_stock(vendor, vendor_id, product_id, product.stock, out)


def seed_image(vendor: Client, vendor_id: str, product_id: str, title: str, out: Seeded) -> None:
    path = f"{vendor_id}/{product_id}/cover.png"
    if vendor.table("product_images").select("id").eq("storage_path", path).execute().data:
        out.images += 1
        return
    vendor.storage.from_(BUCKET).upload(
        path, solid_png(title), {"content-type": "image/png", "upsert": "true", "cache-control": "86400"}
    )
    vendor.table("product_images").insert(
        {"product_id": product_id, "storage_path": path, "position": 0, "alt_text": title[:200]}
    ).execute()
    out.images += 1


def seed_stock(vendor: Client, vendor_id: str, product_id: str, stock: dict[str, int], out: Seeded) -> None:
    rows = _rows(vendor.table("inventory").select("center_id,on_hand").eq("product_id", product_id).execute().data)
    have = {r["center_id"]: r["on_hand"] for r in rows}
    for code, on_hand in stock.items():
        center_id = out.centers[code]
        if center_id not in have:
            vendor.table("inventory").insert(
                {"product_id": product_id, "vendor_id": vendor_id, "center_id": center_id, "on_hand": on_hand}
            ).execute()
        out.stock_rows += 1


def seed(settings: Settings, scale: int = 0, *, quiet: bool = False) -> Seeded:
    began = time.monotonic()
    url, anon = settings.api_url, settings.anon_key
    service = create_client(url, settings.service_role_key)
    out = Seeded()
    sessions: dict[str, Client] = {}
    for person in catalog.PEOPLE:
        client = sign_in(url, anon, person.phone)
        user = client.auth.get_user()
        assert user is not None and user.user is not None
        out.people[person.key] = user.user.id
        client.table("profiles").update({"full_name": person.full_name}).eq("id", user.user.id).execute()
        sessions[person.key] = client
    make_admin(service, out.people["admin"])
    admin = sessions["admin"]
    # a new access token carries the new role (policies trust a "not admin" claim), as an
    # app refreshes its session after a promotion
    admin.auth.refresh_session()
    seed_reference_data(admin, out)
    phones = {p.key: p.phone for p in catalog.PEOPLE}
    for shop in catalog.SHOPS:
        seed_shop(sessions[shop.owner], admin, shop, phones[shop.owner], out)
    for client in sessions.values():
        client.auth.sign_out()
    if scale:
        from wats.seed.synthetic import build

        build(settings, scale, quiet=quiet)
    if not quiet:
        print(
            f"Seeded {len(out.people)} people, {len(out.centers)} fulfillment centers, "
            f"{len(out.categories)} categories, {len(out.vendors)} shops, {out.products} products "
            f"({out.images} images, {out.stock_rows} stock rows) in {time.monotonic() - began:.1f}s."
        )
        print("Sign in with any of these phones and OTP 123456:")
        for person in catalog.PEOPLE:
            print(f"  {person.phone}  {person.full_name} ({person.role})")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Seed the WATS demo data through the APIs")
    parser.add_argument("--instance", default=None)
    parser.add_argument("--scale", type=int, default=0, help="also build N thousand synthetic products")
    args = parser.parse_args(argv)
    seed(Settings.load(args.instance), scale=args.scale)
    return 0


if __name__ == "__main__":
    sys.exit(main())
