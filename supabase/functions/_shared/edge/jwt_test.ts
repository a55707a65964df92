import { assertEquals } from "../payments/assert.ts";
import { signedInClaims } from "./jwt.ts";

Deno.test("a customer's and an admin's tokens belong to a signed-in person", () => {
  for (const role of ["authenticated", "wats_admin"]) {
    assertEquals(signedInClaims({ role, sub: "u1" })?.sub, "u1");
  }
});

Deno.test("anon, the service role, unknown roles and tokens without a subject do not", () => {
  for (
    const claims of [
      { role: "anon" },
      { role: "service_role", sub: "u1" },
      { role: "postgres", sub: "u1" },
      { role: "authenticated" },
      { role: "authenticated", sub: "" },
      null,
    ]
  ) {
    assertEquals(signedInClaims(claims), null);
  }
});
