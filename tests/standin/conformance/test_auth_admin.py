"""The admin API (``/admin/users``), as the back office and Edge Functions use it with the
service role key; refused to everyone else."""

from __future__ import annotations

import uuid

import pytest
from supabase_auth import SyncGoTrueAdminAPI
from supabase_auth.errors import AuthApiError

from tests.standin.conformance.test_auth_support import (
    auth_http,
    claims_of,
    installed_test_hook,
    new_phone,
    sign_in,
)


@pytest.fixture(scope="module", autouse=True)
def token_hook(target):
    with installed_test_hook(target) as name:
        yield name


def test_the_service_role_creates_reads_lists_updates_and_deletes_a_user(service, db):
    phone = new_phone()
    created = service.auth.admin.create_user(
        {"phone": phone, "phone_confirm": True, "user_metadata": {"shop": "Kariakoo Electronics"}}
    ).user
    assert created.phone == phone and created.phone_confirmed_at is not None
    assert created.role == "authenticated" and created.aud == "authenticated"
    assert created.app_metadata == {"provider": "phone", "providers": ["phone"]}
    assert created.user_metadata == {"shop": "Kariakoo Electronics"}
    assert [(i.provider, i.id, i.identity_data["phone"]) for i in created.identities] == [("phone", created.id, phone)]

    assert service.auth.admin.get_user_by_id(created.id).user.phone == phone
    listed = service.auth.admin.list_users(page=1, per_page=1000)
    assert created.id in {u.id for u in listed}

    updated = service.auth.admin.update_user_by_id(
        created.id, {"user_metadata": {"approved": True}, "app_metadata": {"vendor": True}}
    ).user
    assert updated.user_metadata == {"shop": "Kariakoo Electronics", "approved": True}
    assert updated.app_metadata["vendor"] is True and updated.app_metadata["provider"] == "phone"

    service.auth.admin.delete_user(created.id)
    with pytest.raises(AuthApiError) as gone:
        service.auth.admin.get_user_by_id(created.id)
    assert (gone.value.status, gone.value.code) == (404, "user_not_found")
    assert db.execute("select count(*) from auth.identities where user_id = %s", (created.id,)).fetchone() == (0,)


def test_a_phone_can_belong_to_one_user_only(service):
    phone = new_phone()
    service.auth.admin.create_user({"phone": phone})
    with pytest.raises(AuthApiError) as refused:
        service.auth.admin.create_user({"phone": phone})
    assert (refused.value.status, refused.value.code) == (422, "phone_exists")


def test_a_user_created_by_the_admin_signs_in_but_may_not_use_the_admin_api(target, service, anon):
    phone = new_phone()
    created = service.auth.admin.create_user({"phone": phone, "phone_confirm": True}).user
    signed_in = sign_in(anon, target, phone)
    assert signed_in.user.id == created.id
    session = signed_in.session

    as_user = SyncGoTrueAdminAPI(
        url=f"{target.url}/auth/v1",
        headers={"apikey": target.anon_key, "Authorization": f"Bearer {session.access_token}"},
    )
    with pytest.raises(AuthApiError) as refused:
        as_user.list_users()
    assert (refused.value.status, refused.value.code) == (403, "not_admin")
    assert refused.value.message == "User not allowed"

    with pytest.raises(AuthApiError) as refused:
        anon.auth.admin.create_user({"phone": new_phone()})
    assert (refused.value.status, refused.value.code) == (403, "not_admin")

    with auth_http(target) as http:
        no_token = http.get("/admin/users", headers={"Authorization": ""})
    assert (no_token.status_code, no_token.json()["error_code"]) == (401, "no_authorization")
    assert claims_of(session.access_token)["role"] == "authenticated"


def test_an_unknown_or_malformed_user_id_is_not_found(target):
    with auth_http(target, Authorization=f"Bearer {target.service_role_key}") as http:
        unknown = http.get(f"/admin/users/{uuid.uuid4()}")
        malformed = http.get("/admin/users/not-a-uuid")
    assert (unknown.status_code, unknown.json()["error_code"]) == (404, "user_not_found")
    assert (malformed.status_code, malformed.json()["msg"]) == (404, "user_id must be an UUID")
