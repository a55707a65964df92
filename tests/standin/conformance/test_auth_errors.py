"""How the Auth API answers when things go wrong: GoTrue's two error body shapes (chosen by
``X-Supabase-Api-Version``), ``x-sb-error-code``, bad input, per-client rate limits, routes
it does not serve — and never a 500 for anything a client sends."""

from __future__ import annotations

import uuid

import pytest

from tests.standin.conformance.test_auth_support import auth_admin_db, auth_http, installed_test_hook, new_phone


@pytest.fixture(scope="module", autouse=True)
def token_hook(target):
    with installed_test_hook(target) as name:
        yield name


def _wrong_code(http, **headers: str):
    return http.post("/verify", json={"type": "sms", "phone": new_phone(), "token": "000000"}, headers=headers)


def test_clients_of_api_version_2024_01_01_get_code_and_message(target):
    with auth_http(target) as http:
        response = _wrong_code(http, **{"X-Supabase-Api-Version": "2024-01-01"})
    assert response.status_code == 403
    assert response.json() == {"code": "otp_expired", "message": "Token has expired or is invalid"}
    assert response.headers["x-sb-error-code"] == "otp_expired"
    assert response.headers["x-supabase-api-version"] == "2024-01-01"


def test_later_api_versions_are_answered_as_2024_01_01(target):
    with auth_http(target) as http:
        response = _wrong_code(http, **{"X-Supabase-Api-Version": "2025-06-30"})
    assert response.json() == {"code": "otp_expired", "message": "Token has expired or is invalid"}
    assert response.headers["x-supabase-api-version"] == "2024-01-01"


@pytest.mark.parametrize("version", [None, "2023-12-31", "not-a-date"])
def test_older_or_unversioned_clients_get_the_legacy_body(target, version):
    headers = {"X-Supabase-Api-Version": version} if version else {}
    with auth_http(target) as http:
        response = _wrong_code(http, **headers)
    assert response.status_code == 403
    assert response.json() == {"code": 403, "error_code": "otp_expired", "msg": "Token has expired or is invalid"}
    assert response.headers["x-sb-error-code"] == "otp_expired"
    assert "x-supabase-api-version" not in response.headers


def test_a_body_that_is_not_json_of_the_right_shape_is_bad_json(target):
    with auth_http(target) as http:
        not_json = http.post("/otp", content=b"{phone", headers={"Content-Type": "application/json"})
        wrong_type = http.post("/otp", json={"phone": 255711000001})
        not_object = http.post("/verify", json=["sms"])
    for response in (not_json, wrong_type, not_object):
        assert response.status_code == 400
        assert response.json()["error_code"] == "bad_json"
        assert response.json()["msg"].startswith("Could not parse request body as JSON: ")
    assert "OtpParams.phone of type string" in wrong_type.json()["msg"]


def test_settings_and_health_describe_the_service(target):
    with auth_http(target) as http:
        settings = http.get("/settings").json()
        health = http.get("/health").json()
    assert settings["external"]["phone"] is True
    assert settings["external"]["email"] is False
    assert settings["disable_signup"] is False
    assert settings["phone_autoconfirm"] is False
    assert health["name"] == "GoTrue"


def test_routes_it_does_not_serve(target):
    with auth_http(target) as http:
        unknown = http.get("/no-such-route")
        signup = http.post("/signup", json={"phone": new_phone(), "password": "secret-pass"})
        wrong_method = http.delete("/otp")
    assert unknown.status_code == 404 and unknown.text == "404 page not found\n"
    assert signup.status_code == 404 and signup.json()["error_code"] == "feature_disabled"
    assert wrong_method.status_code == 405


def test_a_client_over_the_verify_rate_limit_is_slowed_down(target):
    """GoTrue limits verifications per client (30 per 5 minutes, bursts of 30), keyed by the
    rate-limit header; requests without it are not limited."""
    client_ip = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.7"
    with auth_http(target, **{"X-Forwarded-For": client_ip}) as http:
        statuses = [_wrong_code(http).status_code for _ in range(31)]
        limited = _wrong_code(http)
    with auth_http(target) as http:
        unkeyed = _wrong_code(http)
    assert statuses[:30] == [403] * 30
    assert statuses[30] == 429
    assert limited.json() == {"code": 429, "error_code": "over_request_rate_limit", "msg": "Request rate limit reached"}
    assert unkeyed.status_code == 403


GARBAGE = [b"", b"null", b"[]", b'"x"', b"{}", b'{"phone": null}', b'{"phone": {"a": 1}}', b"\xff\xfe", b"{" * 5000]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/otp"),
        ("POST", "/verify"),
        ("POST", "/token?grant_type=refresh_token"),
        ("PUT", "/user"),
        ("POST", "/resend"),
        ("POST", "/admin/users"),
    ],
)
def test_nothing_a_client_sends_makes_the_server_fail(target, method, path):
    bearer = target.service_role_key if path.startswith("/admin") else target.anon_key
    with auth_http(target, Authorization=f"Bearer {bearer}") as http:
        for body in GARBAGE:
            response = http.request(method, path, content=body, headers={"Content-Type": "application/json"})
            assert response.status_code < 500, (body[:20], response.status_code, response.text)
            assert response.headers["content-type"].startswith("application/json") or response.status_code == 404


FORM_BODIES = [
    ("application/x-www-form-urlencoded", b"phone=255711000001&token=123456&type=sms"),
    ("application/x-www-form-urlencoded", b"%zz=%&&=="),
    (
        "multipart/form-data; boundary=xyz",
        b'--xyz\r\nContent-Disposition: form-data; name="phone"\r\n\r\n1\r\n--xyz--\r\n',
    ),
    ("multipart/form-data", b"no boundary at all"),
    ("multipart/form-data; boundary=xyz", b"--xyz\r\ntruncated"),
    ("text/plain", b"phone=1"),
    ("application/octet-stream", b"\x00\x01\x02"),
]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/otp"),
        ("POST", "/verify"),
        ("POST", "/token"),
        ("POST", "/token?grant_type=refresh_token"),
        ("POST", "/token?grant_type=password"),
        ("PUT", "/user"),
        ("POST", "/resend"),
        ("POST", "/logout"),
        ("POST", "/admin/users"),
        ("PUT", f"/admin/users/{uuid.uuid4()}"),
        ("DELETE", f"/admin/users/{uuid.uuid4()}"),
    ],
)
def test_form_and_other_content_types_get_a_json_4xx_never_a_500(target, method, path):
    """Every GoTrue handler parses its parameters as JSON whatever the Content-Type; form
    bodies (well-formed or not) are therefore client errors, answered in GoTrue's shape."""
    bearer = target.service_role_key if path.startswith("/admin") else target.anon_key
    with auth_http(target, Authorization=f"Bearer {bearer}") as http:
        for content_type, body in FORM_BODIES:
            response = http.request(method, path, content=body, headers={"Content-Type": content_type})
            assert 400 <= response.status_code < 500, (content_type, body[:20], response.status_code, response.text)
            assert response.headers["content-type"].startswith("application/json"), response.text
            data = response.json()
            assert data.get("error_code") and data.get("msg"), data


def test_a_nul_character_in_a_query_parameter_is_a_client_error(target):
    """PostgreSQL cannot store NUL; the request is at fault, so 400, not a database 500."""
    with auth_http(target, Authorization=f"Bearer {target.service_role_key}") as http:
        response = http.get("/admin/users", params={"filter": "a\x00b"})
    assert response.status_code == 400, response.text
    assert response.json()["error_code"] == "validation_failed"


@pytest.fixture
def refusing_trigger(target, db):
    """A trigger on auth.users that refuses one phone, as an app's own trigger might. Only
    the table's owner may drop it again."""
    phone = new_phone()
    db.execute(
        f"""
        create function public.auth_tests_refuse_phone() returns trigger language plpgsql as $$
        begin
          if new.phone = '{phone}' then
            raise exception 'phone % is blocked', new.phone using hint = 'ask support';
          end if;
          return new;
        end $$;
        create trigger auth_tests_refuse_phone before insert on auth.users
        for each row execute function public.auth_tests_refuse_phone();
        """
    )
    try:
        yield phone
    finally:
        with auth_admin_db(target) as owner:
            owner.execute("drop trigger if exists auth_tests_refuse_phone on auth.users")
        db.execute("drop function if exists public.auth_tests_refuse_phone()")


def test_a_database_error_raised_on_purpose_is_shown_to_legacy_clients_only(target, refusing_trigger):
    phone = refusing_trigger
    with auth_http(target) as http:
        legacy = http.post("/otp", json={"phone": phone})
        current = http.post("/otp", json={"phone": phone}, headers={"X-Supabase-Api-Version": "2024-01-01"})
    assert legacy.status_code == current.status_code == 500
    assert legacy.json() == {"code": "P0001", "message": f"phone {phone} is blocked", "hint": "ask support"}
    assert current.json() == {"code": "unexpected_failure", "message": "Database error saving new user"}
    assert legacy.headers["x-sb-error-code"] == current.headers["x-sb-error-code"] == "unexpected_failure"
